/* 批量办理转出: 校验 without leaving the page (the chosen file stays chosen for 开始办理 and the
   error report), and the job's progress bar. The pages work without it. */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // ---- the upload form: 校验 through /ui/uploads/check ----------------------------------------
  var form = $("#upload-form");
  var result = $("#upload-result");
  if (form && result) {
    form.addEventListener("submit", function (ev) {
      var submitter = ev.submitter;
      if (!submitter || submitter.value !== "check") {
        if (submitter && submitter.value === "start") {
          result.textContent = "";
          result.appendChild(el("p", "busy", "正在校验并提交，请稍候……"));
        }
        return;  // 开始办理 and 下载错误报告 post the form
      }
      ev.preventDefault();
      if (!form.elements["file"].files.length) { form.elements["file"].reportValidity(); return; }
      var data = new FormData(form);
      data.set("mode", "check");
      result.textContent = "";
      result.appendChild(el("p", "busy", "正在校验，请稍候……"));
      submitter.disabled = true;
      fetch("/ui/uploads/check", { method: "POST", body: data, credentials: "same-origin",
                                   headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(show, function () { show({ ok: false, failed: true, errors: [] }); })
        .then(function () { submitter.disabled = false; });
    });
  }

  function show(res) {
    result.textContent = "";
    if (res.rows === undefined) {  // the file could not be checked at all
      var box = el("div", "flash err");
      box.setAttribute("role", "alert");
      box.id = "problems";
      box.appendChild(el("p", null, "未能校验该文件："));
      var ul = el("ul");
      (res.errors || []).forEach(function (e) { ul.appendChild(el("li", null, e.message)); });
      if (res.failed) ul.appendChild(el("li", null, "服务器没有回应，请稍后重试"));
      box.appendChild(ul);
      result.appendChild(box);
      return;
    }
    var summary = el("div", "flash " + (res.ok ? "ok" : "err"));
    summary.id = "check-summary";
    summary.setAttribute("role", "status");
    var text = "共 " + res.rows + " 行，校验通过 " + res.valid + " 行";
    if (res.invalid) text += "，" + res.invalid + " 行有错误（共 " + res.errors.length + " 处）";
    text += "。";
    if (res.ok) text += "可以开始办理。";
    else if (res.valid) text += "更正后重新上传，或勾选“跳过无效行”只发起有效行；“下载错误报告”可导出以下错误。";
    summary.appendChild(el("p", null, text));
    result.appendChild(summary);
    if (!res.errors.length) return;
    var table = el("table", "grid upload-errors");
    table.id = "check-errors";
    var head = el("tr");
    ["行号", "列", "规则", "问题"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = el("tbody");
    res.errors.forEach(function (e) {
      var tr = el("tr");
      tr.setAttribute("data-line", e.line);
      tr.setAttribute("data-column", e.column);
      tr.appendChild(el("td", null, "第" + e.line + "行"));
      tr.appendChild(el("td", null, e.column + (e.column_label ? "（" + e.column_label + "）" : "")));
      tr.appendChild(el("td", "mono", e.rule));
      tr.appendChild(el("td", null, e.message));
      body.appendChild(tr);
    });
    table.appendChild(body);
    result.appendChild(table);
  }

  // ---- the job page: the progress bar ---------------------------------------------------------
  var job = $("#upload-job");
  if (job && job.getAttribute("data-status") === "running") {
    var url = job.getAttribute("data-progress-url");
    var set = function (id, v) { var e = document.getElementById(id); if (e) e.textContent = v; };
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          var bar = $("#job-progress");
          bar.max = p.valid || 1;
          bar.value = p.valid ? p.done : 1;
          bar.textContent = p.percent + "%";
          set("count-done", p.done);
          set("count-valid", p.valid);
          set("count-percent", p.percent);
          set("count-started", p.started);
          set("count-existing", p.existing);
          set("count-failed", p.failed);
          set("job-status", p.status_label);
          if (p.running) setTimeout(tick, 1000);
          else window.location.reload();  // the final outcomes of every row
        }, function () { setTimeout(tick, 3000); });
    };
    setTimeout(tick, 500);
  }
})();
