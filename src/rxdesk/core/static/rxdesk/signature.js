// Signature pads: every <canvas data-signature-for="FIELD_ID"> becomes a pad drawn on with
// a mouse, a pen or a finger (pointer events). A button marked data-signature-clear (its
// value a field id, or empty for the pad in the same [data-signature] box) wipes it. When
// the form is sent, a pad that was drawn on writes its PNG (canvas.toDataURL) into the
// hidden input #FIELD_ID; an untouched pad sends nothing, so the server says the signature
// is missing. A form sent back with an error shows the signature it held again.
// A signature cannot be typed: keyboard users need the pad (the templates say so).
// No library, no inline script (a strict CSP stays possible). Loaded with defer.
(function () {
  "use strict";

  var INK = "#10141a";
  var PAPER = "#ffffff";

  function Pad(canvas) {
    this.canvas = canvas;
    this.field = document.getElementById(canvas.getAttribute("data-signature-for"));
    this.context = canvas.getContext("2d");
    this.drawn = false;
    this.active = null;
    this.last = null;
    this.blank();
    this.restore();
    this.listen();
  }

  Pad.prototype.blank = function () {
    var c = this.context;
    c.fillStyle = PAPER;
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
    c.strokeStyle = INK;
    c.fillStyle = INK;
    c.lineWidth = Math.max(2, this.canvas.width / 260);
    c.lineCap = "round";
    c.lineJoin = "round";
  };

  Pad.prototype.mark = function (drawn) {
    this.drawn = drawn;
    var box = this.canvas.closest("[data-signature]");
    if (box) { box.classList.toggle("pos-signed", drawn); }
    var status = box ? box.querySelector("[data-signature-status]") : null;
    if (status) { status.textContent = drawn ? "Signed." : "Not signed yet."; }
  };

  Pad.prototype.restore = function () {
    // The server sent the form back (another field was wrong): show what was signed.
    var value = this.field ? this.field.value : "";
    if (!value || value.indexOf("data:image/png;base64,") !== 0) { return; }
    var self = this;
    var image = new Image();
    image.onload = function () {
      self.context.drawImage(image, 0, 0, self.canvas.width, self.canvas.height);
      self.mark(true);
    };
    image.src = value;
  };

  Pad.prototype.point = function (event) {
    var rect = this.canvas.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * (this.canvas.width / rect.width),
      y: (event.clientY - rect.top) * (this.canvas.height / rect.height)
    };
  };

  Pad.prototype.listen = function () {
    var self = this;
    var canvas = this.canvas;
    canvas.addEventListener("pointerdown", function (event) {
      if (event.button !== undefined && event.button > 0) { return; }
      event.preventDefault();
      self.active = event.pointerId;
      if (canvas.setPointerCapture) { canvas.setPointerCapture(event.pointerId); }
      self.last = self.point(event);
      // A tap leaves a dot.
      self.context.beginPath();
      self.context.arc(self.last.x, self.last.y, self.context.lineWidth / 2, 0, Math.PI * 2);
      self.context.fill();
      self.mark(true);
    });
    canvas.addEventListener("pointermove", function (event) {
      if (self.active !== event.pointerId || !self.last) { return; }
      event.preventDefault();
      var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      if (!events.length) { events = [event]; }
      var c = self.context;
      c.beginPath();
      c.moveTo(self.last.x, self.last.y);
      for (var i = 0; i < events.length; i++) {
        var p = self.point(events[i]);
        c.lineTo(p.x, p.y);
        self.last = p;
      }
      c.stroke();
    });
    function end(event) {
      if (self.active !== event.pointerId) { return; }
      self.active = null;
      self.last = null;
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    var form = (this.field && this.field.form) || canvas.closest("form");
    if (form) {
      form.addEventListener("submit", function () { self.save(); });
    }
  };

  Pad.prototype.save = function () {
    if (!this.field) { return; }
    this.field.value = this.drawn ? this.canvas.toDataURL("image/png") : "";
  };

  Pad.prototype.clear = function () {
    this.blank();
    this.mark(false);
    if (this.field) { this.field.value = ""; }
  };

  function start() {
    var pads = {};
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-signature-for]"),
      function (canvas) {
        if (canvas.signaturePad) { return; }
        canvas.signaturePad = new Pad(canvas);
        pads[canvas.getAttribute("data-signature-for")] = canvas.signaturePad;
      });
    Array.prototype.forEach.call(document.querySelectorAll("[data-signature-clear]"),
      function (button) {
        button.addEventListener("click", function (event) {
          event.preventDefault();
          var id = button.getAttribute("data-signature-clear");
          var pad = id ? pads[id] : null;
          if (!pad) {
            var box = button.closest("[data-signature]");
            var canvas = box ? box.querySelector("canvas[data-signature-for]") : null;
            pad = canvas ? canvas.signaturePad : null;
          }
          if (pad) { pad.clear(); }
        });
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
