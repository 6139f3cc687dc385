// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  function onClick(event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    event.preventDefault();
    navigator.clipboard.writeText(source.value || source.textContent).then(function () {
      var done = button.getAttribute("data-copied") || "Copied";
      var label = button.textContent;
      button.textContent = done;
      setTimeout(function () { button.textContent = label; }, 2000);
    });
  }
  document.addEventListener("click", onClick);
  // After htmx replaces a whole step, move focus to its heading so keyboard and
  // screen-reader users start reading the new step (status polling never moves focus).
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "step") return;
    var heading = document.querySelector("#step [data-focus]");
    if (heading) heading.focus();
  });
  // Auto-submit selects marked data-autosubmit (language switcher) when JS is on.
  // The page's address may have moved on since it loaded (htmx steps push
  // theirs): come back to the current one after switching.
  document.addEventListener("change", function (event) {
    if (!event.target.matches("select[data-autosubmit]")) return;
    var next = event.target.form.querySelector("input[name=next]");
    if (next) next.value = window.location.pathname + window.location.search;
    event.target.form.requestSubmit();
  });
  // A colour picker (input[type=color][data-colour-for]) and its hex text field
  // stay in sync both ways; only the text field is sent with the form.
  var HEX = /^#[0-9a-fA-F]{6}$/;
  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target.matches("input[type=color][data-colour-for]")) {
      var field = document.getElementById(target.getAttribute("data-colour-for"));
      if (!field || field.value.toLowerCase() === target.value) return;
      field.value = target.value;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      return;
    }
    if (!target.id || !HEX.test(target.value)) return;
    var picker = document.querySelector('input[type=color][data-colour-for="' + target.id + '"]');
    if (picker) picker.value = target.value.toLowerCase();
  });
})();
