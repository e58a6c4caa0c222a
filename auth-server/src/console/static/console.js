// CaseForge console: progressive enhancements only; every page works without this file.
// Loaded from /console/static (the CSP forbids inline script).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // <button data-copy="#id">: copies the text of the element #id.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
        });
      }
    });
  });
  // <form data-confirm="Really?">: asks before submitting.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });
});
