// idbridge console and setup portal: small progressive enhancements. Every page
// works without this script: the values are in read-only fields, ready to select
// and copy by hand; a slug is typed by hand; a table is a table.
"use strict";

// Copy buttons.
function enableCopyButtons() {
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
}

// A tenant's slug made from its name: lowercase letters, digits and single
// hyphens, at most 63 characters ("Acme Corp (EU)" becomes "acme-corp-eu").
function slugFromName(name) {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
}

// The new tenant form: the slug follows the name as it is typed, until the
// operator types a slug of their own (emptying the slug hands it back).
function fillSlugFromName() {
  var name = document.getElementById("new-name");
  var slug = document.getElementById("new-slug");
  if (!name || !slug) {
    return;
  }
  // A form shown again (after a refusal) keeps a slug that was the operator's.
  var own = slug.value !== "" && slug.value !== slugFromName(name.value);
  slug.addEventListener("input", function () {
    own = slug.value !== "";
  });
  name.addEventListener("input", function () {
    if (!own) {
      slug.value = slugFromName(name.value);
    }
  });
}

// Tables shown as cards on a phone (console.css) are still tables: some browsers
// forget that once a table is laid out as blocks, so the roles are said outright.
function keepTableRoles() {
  document.querySelectorAll(".table-wrap table").forEach(function (table) {
    table.setAttribute("role", "table");
    table.querySelectorAll("thead, tbody, tfoot").forEach(function (group) {
      group.setAttribute("role", "rowgroup");
    });
    table.querySelectorAll("tr").forEach(function (row) {
      row.setAttribute("role", "row");
    });
    table.querySelectorAll("th").forEach(function (header) {
      var byRow = header.getAttribute("scope") === "row" || header.closest("tbody");
      header.setAttribute("role", byRow ? "rowheader" : "columnheader");
    });
    table.querySelectorAll("td").forEach(function (cell) {
      cell.setAttribute("role", "cell");
    });
  });
}

// A table's scrolling region is in the tab order (so that it scrolls from the
// keyboard) only while it has something to scroll: on a phone, where tables are
// cards, it is not one more stop on the way through the page.
function focusScrollingRegionsOnly() {
  var regions = document.querySelectorAll('.table-wrap[role="region"]');
  if (!regions.length) {
    return;
  }
  function update() {
    regions.forEach(function (region) {
      if (region.scrollWidth > region.clientWidth + 1) {
        region.setAttribute("tabindex", "0");
      } else if (document.activeElement !== region) {
        region.removeAttribute("tabindex");
      }
    });
  }
  var pending = false;
  function later() {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        update();
      });
    }
  }
  update();
  window.addEventListener("resize", later);
  // An opened confirmation can widen its row.
  document.addEventListener("toggle", later, true);
}

document.addEventListener("DOMContentLoaded", function () {
  keepTableRoles();
  focusScrollingRegionsOnly();
  fillSlugFromName();
  enableCopyButtons();
});
