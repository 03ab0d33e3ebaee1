/* 智慧团建 · 团组织关系转接 — a little plain JS. Every page works without it; this only adds
   查询, 预览路由, the org picker, field groups by 转入原因 and region suggestions, the count of the
   requests selected in 操作中心, a confirmed batch sent in chunks, and 修改后重新提交's picker and 预览. */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // 全选 checkboxes in lists
  $all("[data-check-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      $all('input[type=checkbox][name="' + box.getAttribute("data-check-all") + '"]').forEach(function (b) {
        b.checked = box.checked;
      });
    });
  });

  function postJSON(url, data) {
    return fetch(url, { method: "POST", body: data, credentials: "same-origin",
                        headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().catch(function () { return { ok: false, errors: [{ message: "服务器返回了无法识别的内容（" + r.status + "）" }] }; }); });
  }
  function messagesOf(res) {
    return (res.errors || []).map(function (e) { return e.message; }).join("；");
  }

  // 操作中心: how many are selected; 全选符合条件的N条 selects every request the filter matches
  var bar = $("#batch-bar");
  if (bar) {
    var batchForm = $("#batch-form");
    var allMatching = $("#all-matching");
    var countBox = $("#selected-count");
    var matching = parseInt(bar.getAttribute("data-total"), 10) || 0;
    var idBoxes = function () { return $all('input[type=checkbox][name="ids"]', batchForm); };
    var updateCount = function () {
      var n = idBoxes().filter(function (b) { return b.checked; }).length;
      if (allMatching && allMatching.checked) countBox.textContent = "已选择符合条件的全部 " + matching + " 条";
      else countBox.textContent = n ? "已选择本页 " + n + " 条" : "勾选申请后可批量处理";
    };
    batchForm.addEventListener("change", function (e) {
      var t = e.target;
      if (t === allMatching && t.checked) {
        idBoxes().forEach(function (b) { b.checked = true; });
        var head = $('[data-check-all="ids"]', batchForm);
        if (head) head.checked = true;
      } else if (allMatching && t !== allMatching && (t.name === "ids" || t.hasAttribute("data-check-all")) && !t.checked) {
        allMatching.checked = false;  // a request left out: no longer every one the filter matches
      }
      updateCount();
    });
    updateCount();
  }

  // the confirmed batch, sent in chunks the server accepts, with a result row per request as they come
  var confirmForm = $("#batch-confirm-form");
  if (confirmForm) {
    confirmForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var ids = confirmForm.elements["id_list"].value.split(",").filter(Boolean);
      var size = parseInt(confirmForm.getAttribute("data-chunk"), 10) || 100;
      var button = $("#batch-confirm-submit");
      var progress = $("#batch-progress");
      var results = $("#batch-results");
      var tbody = $("tbody", results);
      var summary = $("#batch-summary");
      var done = 0, good = 0;
      button.disabled = true;
      progress.hidden = false;
      results.hidden = false;
      function report(final) {
        progress.textContent = final ? "已全部处理（" + ids.length + " 条）" : "正在处理：" + done + " / " + ids.length + " 条";
        summary.textContent = "共 " + done + " 条：成功 " + good + " 条" + (done - good ? "，未成功 " + (done - good) + " 条" : "") + "。";
      }
      function addRow(r) {
        var tr = el("tr", r.ok ? "ok" : "bad");
        tr.setAttribute("data-result-id", r.id);
        var a = el("a", null, "#" + r.id);
        a.href = "/ui/transfers/" + r.id;
        var td = el("td"); td.setAttribute("data-label", "申请"); td.appendChild(a); tr.appendChild(td);
        [["团员", r.member_name || ""], ["结果", r.text]].forEach(function (c) {
          var cell = el("td", null, c[1]); cell.setAttribute("data-label", c[0]); tr.appendChild(cell);
        });
        tbody.appendChild(tr);
      }
      function next(start) {
        if (start >= ids.length) { report(true); return; }
        var data = new FormData();
        ["csrf_token", "action", "reason_code", "reason_text"].forEach(function (k) { data.append(k, confirmForm.elements[k].value); });
        data.append("id_list", ids.slice(start, start + size).join(","));
        postJSON("/ui/ops/batch.json", data).then(function (res) {
          if (!res.ok) {
            progress.textContent = "已处理 " + done + " 条，其余未处理：" + messagesOf(res);
            return;
          }
          res.results.forEach(function (r) { addRow(r); done += 1; if (r.ok) good += 1; });
          report(false);
          next(start + size);
        }, function () {
          progress.textContent = "网络错误：已处理 " + done + " 条，其余未处理。请刷新列表后重试。";
        });
      }
      report(false);
      next(0);
    });
  }

  // 修改后重新提交: the partition question, the org picker and 预览路由 of the corrected request
  var rform = $("#resubmit-form");
  if (rform) {
    var rWhich = $("#resubmit-partition-which");
    var rTarget = $("#resubmit-target");
    var rQ = $("#resubmit-org-q");
    var rBox = $("#resubmit-preview");
    var rAnswer = function () { return rform.querySelector('input[name="partition_special"]:checked'); };
    var rPartition = function () {
      var a = rAnswer();
      if (!a) return "";
      return a.value === "no" ? "national" : (rform.elements["partition_which"].value || "");
    };
    var rApply = function () { if (rWhich) { var a = rAnswer(); rWhich.hidden = !(a && a.value === "yes"); } };
    $all('input[name="partition_special"]', rform).forEach(function (r) { r.addEventListener("change", rApply); });
    rApply();
    var rSearch = function () {
      var q = rQ.value.trim();
      var p = rPartition();
      rBox.className = "route-preview";
      if (!q) return;
      if (!p) { rBox.textContent = "请先回答“转入组织（新组织）是否属于北京／广东／福建”"; return; }
      fetch("/ui/orgs?q=" + encodeURIComponent(q) + "&partition=" + encodeURIComponent(p), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (rows) {
          while (rTarget.options.length > 1) rTarget.remove(1);
          (rows || []).forEach(function (o) {
            var opt = el("option", null, o.name + "（" + (o.kind_label || o.kind) + "）");
            opt.value = o.code;
            rTarget.appendChild(opt);
          });
          if (rows && rows.length) rTarget.selectedIndex = 1;
          rBox.textContent = rows && rows.length ? "找到 " + rows.length + " 个组织，请在“转入组织”中选择" : "没有找到符合条件的组织";
        });
    };
    if (rQ) {
      var rTimer = null;
      rQ.addEventListener("input", function () { clearTimeout(rTimer); rTimer = setTimeout(rSearch, 250); });
      rQ.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); rSearch(); } });
      rform.querySelector('[data-action="org-search"]').addEventListener("click", rSearch);
    }
    var rPreview = rform.querySelector('[data-action="preview"]');
    rPreview.addEventListener("click", function () {
      rPreview.disabled = true;
      $all(".field-error.js", rform).forEach(function (x) { x.remove(); });
      postJSON(rform.getAttribute("data-preview"), new FormData(rform)).then(function (res) {
        rPreview.disabled = false;
        rBox.textContent = "";
        if (res.ok) {
          rBox.className = "route-preview ok";
          var head = el("p");
          head.appendChild(el("strong", null, "将转入：" + (res.route.org_name || res.route.org_code)));
          if (res.route.clause && (res.route.explanation || "").indexOf(res.route.clause) < 0) {
            head.appendChild(document.createTextNode(" "));
            head.appendChild(el("span", "clause", res.route.clause));
          }
          rBox.appendChild(head);
          rBox.appendChild(el("p", "explanation", res.route.explanation || ""));
        } else {
          rBox.className = "route-preview err";
          var list = el("ul");
          (res.errors || []).forEach(function (err) {
            list.appendChild(el("li", null, err.message));
            var holder = err.input ? rform.querySelector('[data-field="' + err.input + '"]') : null;
            if (holder && holder.offsetParent !== null) {
              var p = el("p", "field-error js", err.message);
              p.setAttribute("role", "alert");
              holder.appendChild(p);
            }
          });
          rBox.appendChild(el("p", null, "请更正以下问题："));
          rBox.appendChild(list);
        }
      }, function () { rPreview.disabled = false; });
    });
  }

  var form = $("#transfer-form");
  if (!form) return;
  var csrf = form.elements["csrf_token"].value;

  function post(url, data) {
    return fetch(url, { method: "POST", body: data, credentials: "same-origin",
                        headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().catch(function () { return { ok: false, errors: [{ message: "服务器返回了无法识别的内容（" + r.status + "）" }] }; }); });
  }

  function clearErrors() {
    $all(".field-error.js", form).forEach(function (e) { e.remove(); });
    $all(".has-error", form).forEach(function (e) { e.classList.remove("has-error"); });
  }

  function showErrors(errors, box) {
    clearErrors();
    var list = el("ul");
    (errors || []).forEach(function (err) {
      list.appendChild(el("li", null, err.message));
      var holder = err.input ? form.querySelector('[data-field="' + err.input + '"]') : null;
      if (holder && holder.offsetParent !== null) {
        var p = el("p", "field-error js", err.message);
        p.setAttribute("role", "alert");
        holder.appendChild(p);
        holder.classList.add("has-error");
      }
    });
    if (box) {
      box.className = box.className.replace(/\b(ok|err)\b/g, "").trim() + " err";
      box.textContent = "";
      box.appendChild(el("p", null, "请更正以下问题："));
      box.appendChild(list);
    }
  }

  // 转入原因 → which field groups show
  var typeSelect = form.elements["type"];
  function applyType() {
    var t = typeSelect.value;
    $all("[data-types]", form).forEach(function (g) {
      var types = (g.getAttribute("data-types") || "").split(/\s+/);
      g.hidden = !t || types.indexOf(t) < 0;
    });
  }
  typeSelect.addEventListener("change", applyType);
  applyType();

  // 转入组织是否属于北京/广东/福建 → hidden partition, and which orgs the picker searches
  var which = $("#partition-which");
  function partition() {
    var answer = form.querySelector('input[name="partition_special"]:checked');
    if (!answer) return "";
    if (answer.value === "no") return "national";
    return form.elements["partition_which"].value || "";
  }
  function applyPartition(userChange) {
    if (!which) return;
    var answer = form.querySelector('input[name="partition_special"]:checked');
    which.hidden = !(answer && answer.value === "yes");
    var before = form.elements["partition"].value;
    form.elements["partition"].value = partition();
    if (userChange === true && before !== form.elements["partition"].value) resetTargets();
  }
  function partitionChanged() { applyPartition(true); }
  $all('input[name="partition_special"]', form).forEach(function (r) { r.addEventListener("change", partitionChanged); });
  if (which) form.elements["partition_which"].addEventListener("change", partitionChanged);

  // the org picker
  var target = $("#target-org");
  var orgQ = $("#org-q");
  function resetTargets() {
    if (!target) return;
    while (target.options.length > 1) target.remove(1);
    target.selectedIndex = 0;
  }
  var searchTimer = null;
  function searchOrgs() {
    if (!target) return;
    var p = partition();
    var status = $("#org-search-status") || (function () {
      var s = el("p", "muted small"); s.id = "org-search-status"; target.parentNode.insertBefore(s, target); return s;
    })();
    if (!p) { status.textContent = "请先回答“转入组织（新组织）是否属于北京／广东／福建”"; return; }
    var q = orgQ.value.trim();
    if (!q) { status.textContent = ""; return; }
    fetch("/ui/orgs?q=" + encodeURIComponent(q) + "&partition=" + encodeURIComponent(p), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (rows) {
        var keep = target.value;
        resetTargets();
        (rows || []).forEach(function (o) {
          var opt = el("option", null, o.name + "（" + (o.kind_label || o.kind) + "）");
          opt.value = o.code;
          target.appendChild(opt);
        });
        if (rows && rows.length) {
          target.selectedIndex = 1;
          for (var i = 0; i < target.options.length; i++) if (target.options[i].value === keep && keep) target.selectedIndex = i;
        }
        status.textContent = rows && rows.length ? "找到 " + rows.length + " 个组织，请在下面选择" : "没有找到符合条件的组织";
      });
  }
  if (orgQ) {
    orgQ.addEventListener("input", function () { clearTimeout(searchTimer); searchTimer = setTimeout(searchOrgs, 250); });
    orgQ.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); searchOrgs(); } });
  }
  var searchBtn = form.querySelector('[data-action="org-search"]');
  if (searchBtn) searchBtn.addEventListener("click", searchOrgs);

  // 查询: name + 身份证号 → the member
  var lookupBtn = form.querySelector('[data-action="lookup"]');
  var lookupBox = $("#lookup-result");
  lookupBtn.addEventListener("click", function () {
    var data = new FormData();
    data.append("csrf_token", csrf);
    data.append("name", form.elements["name"].value);
    data.append("id_number", form.elements["id_number"].value);
    lookupBtn.disabled = true;
    post("/ui/lookup", data).then(function (res) {
      lookupBtn.disabled = false;
      lookupBox.textContent = "";
      if (res.ok) {
        clearErrors();
        var mm = res.member;
        lookupBox.className = "lookup ok";
        lookupBox.appendChild(el("strong", null, mm.name + "　" + mm.id_number_masked));
        lookupBox.appendChild(el("div", null, "所在团支部：" + mm.branch_name + (mm.school_name ? "（" + mm.school_name + "）" : "")));
      } else {
        showErrors(res.errors, lookupBox);
        lookupBox.className = "lookup err";
      }
    }, function () { lookupBtn.disabled = false; });
  });

  // 预览路由: every check of the start and the proposed target with its clause
  var previewBtn = form.querySelector('[data-action="preview"]');
  var previewBox = $("#route-preview");
  previewBtn.addEventListener("click", function () {
    applyPartition();
    previewBtn.disabled = true;
    post("/ui/transfers/preview", new FormData(form)).then(function (res) {
      previewBtn.disabled = false;
      previewBox.textContent = "";
      if (res.ok) {
        clearErrors();
        previewBox.className = "route-preview ok";
        var head = el("p");
        head.appendChild(el("strong", null, "建议转入：" + (res.route.org_name || res.route.org_code)));
        if (res.route.clause && (res.route.explanation || "").indexOf(res.route.clause) < 0) { head.appendChild(document.createTextNode(" ")); head.appendChild(el("span", "clause", res.route.clause)); }
        previewBox.appendChild(head);
        previewBox.appendChild(el("p", "explanation", res.route.explanation || ""));
      } else {
        showErrors(res.errors, previewBox);
        previewBox.className = "route-preview err";
      }
    }, function () { previewBtn.disabled = false; });
  });

  // 去向所在地: suggestions from the directory's regions, level by level
  var levels = ["province", "city", "county", "township"];
  $all("input[data-region]", form).forEach(function (input) {
    input.addEventListener("focus", function () {
      var level = input.getAttribute("data-region");
      var params = ["level=" + level];
      levels.slice(0, levels.indexOf(level)).forEach(function (up) {
        var v = form.elements["loc_" + up].value.trim();
        if (v) params.push(up + "=" + encodeURIComponent(v));
      });
      fetch("/ui/regions?" + params.join("&"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (names) {
          var dl = document.getElementById("dl-" + level);
          dl.textContent = "";
          (names || []).forEach(function (n) { var o = el("option"); o.value = n; dl.appendChild(o); });
        });
    });
  });

  form.addEventListener("submit", function () { applyPartition(); });
  applyPartition();
})();
