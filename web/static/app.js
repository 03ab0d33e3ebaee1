/* 智慧团建 · 团组织关系转接 — a little plain JS. Every page works without it; this only adds
   查询, 预览路由, the org picker, field groups by 转入原因 and region suggestions. */
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
