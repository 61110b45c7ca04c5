// idbridge console: copy buttons, as progressive enhancement. Without this script
// the values are still in read-only fields, ready to select and copy by hand.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  if (!navigator.clipboard) {
    return;
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) {
      return;
    }
    var label = button.textContent;
    // "Copy" alone says nothing to a screen reader in a list of values: name the
    // value (its label, the element that labels it, or its term in a <dl>).
    if (!button.hasAttribute("aria-label")) {
      var name = "";
      var forLabel = document.querySelector('label[for="' + target.id + '"]');
      var labelledBy = target.getAttribute("aria-labelledby");
      var term = target.closest("dd") && target.closest("dd").previousElementSibling;
      if (forLabel) {
        name = forLabel.textContent;
      } else if (labelledBy && document.getElementById(labelledBy)) {
        name = document.getElementById(labelledBy).textContent;
      } else if (term && term.tagName === "DT") {
        name = term.textContent;
      }
      name = name.replace(/\s+/g, " ").trim();
      if (name) {
        button.setAttribute("aria-label", "Copy " + name);
      }
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.value).then(
        function () {
          button.textContent = "Copied";
          // The label would hide the new text from a screen reader.
          var named = button.getAttribute("aria-label");
          button.removeAttribute("aria-label");
          setTimeout(function () { if (named) { button.setAttribute("aria-label", named); } }, 2000);
          button.setAttribute("aria-live", "polite");
          setTimeout(function () { button.textContent = label; }, 2000);
        },
        function () {
          target.focus();
          target.select();
        }
      );
    });
  });
});
