/* ServiceDesk page behaviour: the SLA countdown, keyboard shortcuts, small
   progressive enhancements. No inline handlers, no eval (the CSP forbids them);
   every page works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var strings = {};
  function loadStrings() {
    var node = document.getElementById("sd-strings");
    if (node) { try { strings = JSON.parse(node.textContent); } catch (e) { strings = {}; } }
  }
  function fmt(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }
  function pad(n) { return n < 10 ? "0" + n : String(n); }

  // The same words as servicedesk/web/sla.py duration_text().
  function durationText(seconds) {
    var overdue = seconds <= 0;
    var minutes = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(minutes / 1440), rest = minutes % 1440;
    var hours = Math.floor(rest / 60), mins = rest % 60, text;
    if (days) { text = fmt(strings.days, { d: days, h: hours }); }
    else if (hours) { text = fmt(strings.hours, { h: hours, m: pad(mins) }); }
    else { text = fmt(strings.minutes, { m: mins }); }
    return overdue ? fmt(strings.overdue, { time: text }) : text;
  }

  // Amber with a quarter of the window left, red once past (sla.py WARN_FRACTION).
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".sla time[datetime]").forEach(function (el) {
      var deadline = Date.parse(el.getAttribute("datetime"));
      var start = Date.parse(el.getAttribute("data-sla-start"));
      if (isNaN(deadline)) { return; }
      var remaining = Math.round((deadline - now) / 1000);
      var windowSeconds = Math.max((deadline - start) / 1000, 1);
      var state = remaining <= 0 ? "breach" : (remaining <= windowSeconds * 0.25 ? "warn" : "ok");
      var box = el.parentNode;
      box.classList.remove("sla-ok", "sla-warn", "sla-breach");
      box.classList.add("sla-" + state);
      el.textContent = durationText(remaining);
    });
  }

  // ---- keyboard ------------------------------------------------------------------------
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("table[data-keyboard-rows] tbody tr")); }
  var current = -1, pendingG = false;
  function focusRow(index) {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) { row.classList.toggle("kb-focus", i === current); });
    var link = all[current].querySelector("td.num a");
    if (link) { link.focus(); }
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "w") { window.location.href = "/"; event.preventDefault(); }
      return;
    }
    if (key === "/") {
      var search = document.getElementById("filter-text") || document.querySelector("[data-shortcut='/']");
      if (search) { search.focus(); search.select(); event.preventDefault(); }
    } else if (key === "n") {
      var create = document.querySelector("[data-shortcut='n']") || document.querySelector("a[href='/incidents/new/']");
      if (create) { window.location.href = create.getAttribute("href"); event.preventDefault(); }
    } else if (key === "j") { focusRow(current + 1); event.preventDefault(); }
    else if (key === "k") { focusRow(current - 1); event.preventDefault(); }
    else if (key === "x" && current >= 0) {
      var box = rows()[current] && rows()[current].querySelector("input[type=checkbox]");
      if (box) { box.checked = !box.checked; event.preventDefault(); }
    } else if (key === "g") { pendingG = true; }
    else if (key === "?") {
      var help = document.getElementById("shortcuts");
      if (help && help.showModal) { help.showModal(); event.preventDefault(); }
    }
  });

  // ---- enhancements ------------------------------------------------------------------------
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) { el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit(); }
  });

  // After an HTMX swap: focus the first field with an error, else keep the place.
  document.addEventListener("htmx:afterSwap", function (event) {
    tick();
    current = -1;
    var invalid = event.detail.target.querySelector("[aria-invalid=true], .form-error");
    if (invalid) {
      var details = invalid.closest("details");
      if (details) { details.open = true; }
      if (invalid.focus) { invalid.setAttribute("tabindex", invalid.getAttribute("tabindex") || "-1"); invalid.focus(); }
    }
  });

  // A failed htmx request (5xx, network) says so instead of doing nothing; a
  // lost race (409, text) says what the server said.
  function failed(event) {
    var region = document.querySelector(".messages-region");
    if (!region) { return; }
    var xhr = event && event.detail && event.detail.xhr;
    var said = xhr && xhr.status === 409 &&
      (xhr.getResponseHeader("Content-Type") || "").indexOf("text/plain") === 0 ? xhr.responseText : "";
    var list = document.createElement("ul");
    list.className = "messages";
    var item = document.createElement("li");
    item.className = "msg msg-error";
    item.textContent = said || strings.failed || "Request failed.";
    list.appendChild(item);
    region.replaceChildren(list);
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);

  document.addEventListener("DOMContentLoaded", function () {
    loadStrings();
    tick();
    window.setInterval(tick, 15000);
  });
})();
