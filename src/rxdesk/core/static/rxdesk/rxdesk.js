// Keyboard flow for the workstation: "/" jumps to the page's search box, Esc goes back
// from a form to where it came from, a single key opens the action marked data-key, the
// arrow keys walk search results. Forms marked data-draft keep what was typed in
// localStorage until they are saved, so a session timeout never loses a technician's work.
// No inline scripts (a strict CSP stays possible).
(function () {
  "use strict";

  function isTyping(target) {
    return !!target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT" || target.isContentEditable);
  }

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  }

  function results() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-result]"));
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = isTyping(target);
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "/" && !typing) {
      var search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
    } else if (event.key === "Escape") {
      if (target && target.hasAttribute && target.hasAttribute("data-search") && target.value) {
        event.preventDefault();
        target.value = "";
        target.dispatchEvent(new Event("input", { bubbles: true }));
        return;
      }
      var back = document.querySelector("[data-back]");
      if (back) { event.preventDefault(); window.location.href = back.getAttribute("href"); }
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var list = results();
      if (!list.length) { return; }
      var index = list.indexOf(target);
      if (target && target.hasAttribute && target.hasAttribute("data-search")) {
        if (event.key === "ArrowDown") { event.preventDefault(); list[0].focus(); }
      } else if (index >= 0) {
        event.preventDefault();
        if (event.key === "ArrowDown") {
          list[Math.min(index + 1, list.length - 1)].focus();
        } else if (index === 0) {
          var box = document.querySelector("[data-search]");
          if (box) { box.focus(); }
        } else {
          list[index - 1].focus();
        }
      }
    } else if (!typing && event.key.length === 1) {
      var keyed = document.querySelectorAll("[data-key]");
      for (var i = 0; i < keyed.length; i++) {
        if (keyed[i].getAttribute("data-key") === event.key && visible(keyed[i])) {
          event.preventDefault();
          keyed[i].click();
          return;
        }
      }
    }
  });

  // --- Drafts -----------------------------------------------------------------------------
  var PREFIX = "rxdesk:draft:";
  var PENDING = "rxdesk:draft-pending";
  var MAX_AGE_MS = 12 * 60 * 60 * 1000; // a session never lasts longer

  function storage(kind) {
    try { var s = window[kind]; s.getItem("x"); return s; } catch (e) { return null; }
  }
  var local = storage("localStorage");
  var session = storage("sessionStorage");

  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrfmiddlewaretoken" && !el.disabled &&
        ["password", "hidden", "submit", "button", "file", "reset"].indexOf(el.type) < 0;
    });
  }

  function save(form, key) {
    var values = {};
    fields(form).forEach(function (el) {
      values[el.name] = el.type === "checkbox" ? el.checked : el.value;
    });
    try {
      local.setItem(PREFIX + key, JSON.stringify({ savedAt: Date.now(), values: values }));
    } catch (e) { /* storage full or refused: the form still works */ }
  }

  function read(key) {
    try {
      var draft = JSON.parse(local.getItem(PREFIX + key) || "null");
      if (draft && Date.now() - draft.savedAt < MAX_AGE_MS) { return draft; }
    } catch (e) { /* a damaged draft is dropped */ }
    local.removeItem(PREFIX + key);
    return null;
  }

  function restore(form, key) {
    // A form the server sent back with errors already holds what was typed last.
    if (form.querySelector(".form-errors, [aria-invalid='true']")) { return; }
    var draft = read(key);
    if (!draft) { return; }
    var changed = false;
    fields(form).forEach(function (el) {
      if (!Object.prototype.hasOwnProperty.call(draft.values, el.name)) { return; }
      var value = draft.values[el.name];
      if (el.type === "checkbox") {
        if (el.checked !== !!value) { el.checked = !!value; changed = true; }
      } else if (el.value !== value) {
        el.value = value; changed = true;
      }
    });
    if (!changed) { return; }
    var note = document.createElement("p");
    note.className = "draft-note";
    note.setAttribute("role", "status");
    var when = new Date(draft.savedAt);
    note.textContent = "Restored what you typed at " +
      when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + " (not saved yet). ";
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "small";
    discard.textContent = "Discard draft";
    discard.addEventListener("click", function () {
      local.removeItem(PREFIX + key);
      window.location.reload();
    });
    note.appendChild(discard);
    form.insertBefore(note, form.firstChild);
  }

  function setUpDrafts() {
    if (!local) { return; }
    var pending = session && session.getItem(PENDING);
    if (pending) {
      session.removeItem(PENDING);
      // Saved: the next page says so. Anything else (an error, the sign-in page after a
      // timeout) keeps the draft for when the form is opened again.
      if (document.querySelector(".messages .msg-success")) { local.removeItem(PREFIX + pending); }
    }
    Array.prototype.forEach.call(document.querySelectorAll("form[data-draft]"), function (form) {
      var key = form.getAttribute("data-draft");
      restore(form, key);
      var timer = null;
      var later = function () {
        clearTimeout(timer);
        timer = setTimeout(function () { save(form, key); }, 300);
      };
      form.addEventListener("input", later);
      form.addEventListener("change", later);
      form.addEventListener("submit", function () {
        save(form, key);
        if (session) { session.setItem(PENDING, key); }
      });
    });
    // Signing out on purpose leaves nothing typed behind on a shared workstation.
    Array.prototype.forEach.call(document.querySelectorAll("form[action$='/signout/']"),
      function (form) {
        form.addEventListener("submit", function () {
          for (var i = local.length - 1; i >= 0; i--) {
            var k = local.key(i);
            if (k && k.indexOf(PREFIX) === 0) { local.removeItem(k); }
          }
        });
      });
  }

  function focusFirstError() {
    var bad = document.querySelector("main [aria-invalid='true']");
    if (bad) { bad.focus(); }
  }

  function setUpHtmx() {
    if (!window.htmx) { return; }
    // Swap a 422 (the fragment with its field errors) like a success; other errors stay out.
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true },
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false }
    ];
    document.body.addEventListener("htmx:responseError", function (event) {
      var status = event.detail && event.detail.xhr ? event.detail.xhr.status : 0;
      var main = document.getElementById("main");
      if (!main) { return; }
      var list = main.querySelector(".messages");
      if (!list) {
        list = document.createElement("ul");
        list.className = "messages";
        list.setAttribute("role", "status");
        main.insertBefore(list, main.firstChild);
      }
      var item = document.createElement("li");
      item.className = "msg-error";
      item.textContent = status === 403 ? "Not allowed for your role." :
        "Something went wrong (" + status + "); try again.";
      list.appendChild(item);
    });
  }

  function start() {
    setUpHtmx();
    setUpDrafts();
    focusFirstError();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// Pickers on the typing screen: a search box ([data-picker-box]) lists choices in its
// [data-picks] area (htmx); ↓ ↑ walk them, Enter picks one (or the only one), and a pick
// ([data-pick], JSON) sets hidden fields, shows what was chosen and moves to the next box.
// Enter in a box never submits the form: in the drug box ([data-enter-next]) it moves on,
// as a scanner ends each code with Enter. Forms marked data-reset-after are cleared once
// htmx has sent them (the upload of a scan).
(function () {
  "use strict";

  function picker(el) { return el && el.closest ? el.closest("[data-picker]") : null; }

  function picks(box) {
    var area = box ? box.querySelector("[data-picks]") : null;
    return area ? Array.prototype.slice.call(area.querySelectorAll("[data-pick]")) : [];
  }

  function focusables(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(el.tagName) && !el.disabled &&
        el.type !== "hidden" && !el.closest("[data-picks]") &&
        (el.offsetWidth || el.offsetHeight || el.getClientRects().length);
    });
  }

  function focusNext(input) {
    var form = input.form;
    if (!form) { return; }
    var list = focusables(form);
    var next = list[list.indexOf(input) + 1];
    if (next) { next.focus(); }
  }

  function applyPick(button) {
    var pick;
    try { pick = JSON.parse(button.getAttribute("data-pick")); } catch (e) { return; }
    Object.keys(pick.set || {}).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) { return; }
      el.value = pick.set[id];
      el.dispatchEvent(new Event("change", { bubbles: true }));
    });
    Object.keys(pick.text || {}).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { el.textContent = pick.text[id]; }
    });
    var box = picker(button);
    var area = box ? box.querySelector("[data-picks]") : null;
    if (area) { area.innerHTML = ""; }
    var targets = [].concat(pick.focus || []);
    for (var i = 0; i < targets.length; i++) {
      var next = document.getElementById(targets[i]);
      if (next) { next.focus(); break; }
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("[data-pick]") : null;
    if (!button) { return; }
    event.preventDefault();
    applyPick(button);
  });

  document.addEventListener("input", function (event) {
    var target = event.target;
    var clears = target && target.getAttribute ? target.getAttribute("data-clears") : null;
    if (clears) {
      var other = document.getElementById(clears);
      if (other) { other.value = ""; }
    }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!target || !target.closest || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var box = picker(target);
    if (!box) { return; }
    var list = picks(box);
    var index = list.indexOf(target);
    if (target.hasAttribute("data-picker-box")) {
      if (event.key === "Enter") {
        event.preventDefault();
        if (target.hasAttribute("data-enter-next")) { focusNext(target); }
        else if (list.length === 1) { applyPick(list[0]); }
      } else if (event.key === "ArrowDown" && list.length) {
        event.preventDefault();
        list[0].focus();
      }
    } else if (index >= 0) {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        list[Math.min(index + 1, list.length - 1)].focus();
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (index === 0) { box.querySelector("[data-picker-box]").focus(); }
        else { list[index - 1].focus(); }
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        box.querySelector("[data-picker-box]").focus();
      }
    }
  }, true);

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form && form.hasAttribute && form.hasAttribute("data-reset-after") && form.reset) {
      form.reset();
      // data-reset-after="code": the field to type in next (a scan box).
      var next = form.getAttribute("data-reset-after");
      if (next && form.elements[next] && form.elements[next].focus) { form.elements[next].focus(); }
    }
  });
})();

// The fill queue: j / k (or ↓ / ↑) walk the rows, Enter opens the focused one, n opens the
// next fill ([data-key]); ↓ in a filter box moves to the first row. The list refreshes every
// 15 seconds (htmx) and the row that had the focus keeps it. A scan box ([data-scan]) selects
// what it holds when it gets the focus, so the next scan replaces a refused one.
(function () {
  "use strict";

  function isTyping(target) {
    return !!target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT" || target.isContentEditable);
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-queue] [data-queue-open]"));
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    var down = event.key === "j" || event.key === "ArrowDown";
    var up = event.key === "k" || event.key === "ArrowUp";
    if (!down && !up) { return; }
    var list = rows();
    if (!list.length) { return; }
    if (isTyping(target)) {
      if (event.key === "ArrowDown" && target.closest && target.closest(".queue-filters")) {
        event.preventDefault();
        list[0].focus();
      }
      return;
    }
    var index = list.indexOf(document.activeElement);
    event.preventDefault();
    if (index < 0) { list[0].focus(); return; }
    list[down ? Math.min(index + 1, list.length - 1) : Math.max(index - 1, 0)].focus();
  });

  var focusedFill = null;
  document.addEventListener("htmx:beforeSwap", function () {
    var active = document.activeElement;
    focusedFill = active && active.hasAttribute && active.hasAttribute("data-queue-open") ?
      active.getAttribute("data-fill") : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!focusedFill) { return; }
    var again = document.querySelector("[data-queue-open][data-fill='" + focusedFill + "']");
    focusedFill = null;
    if (again) { again.focus(); }
  });

  document.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target && target.hasAttribute && target.hasAttribute("data-scan") && target.select) {
      target.select();
    }
  });

  function start() {
    var active = document.activeElement;
    if (active && active.hasAttribute && active.hasAttribute("data-scan")) { active.select(); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// Behaviour that would otherwise sit in inline handlers, which the Content-Security-Policy
// forbids: a select that submits its form when changed (data-autosubmit), a button that
// prints the page (data-print), and Enter in a lookup box asking htmx to look up at once
// (data-enter-lookup, listened for as hx-trigger="rxdesk:enter").
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.hasAttribute && target.hasAttribute("data-autosubmit") && target.form) {
      if (target.form.requestSubmit) { target.form.requestSubmit(); } else { target.form.submit(); }
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("[data-print]") : null;
    if (button) { event.preventDefault(); window.print(); }
  });

  document.addEventListener("keyup", function (event) {
    var target = event.target;
    if (event.key === "Enter" && target && target.hasAttribute &&
        target.hasAttribute("data-enter-lookup")) {
      target.dispatchEvent(new CustomEvent("rxdesk:enter"));
    }
  });
})();
