// callrouter web: a little progressive enhancement; every page works without it.
// No inline scripts anywhere (the Content-Security-Policy forbids them): behaviour is attached
// here by data attributes.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // <form data-confirm="Are you sure?">: ask before submitting.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  // <select data-autosubmit>: submit its form when the choice changes.
  document.querySelectorAll("[data-autosubmit]").forEach(function (field) {
    field.addEventListener("change", function () {
      if (field.form) {
        field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
      }
    });
  });

  // <button data-toggle="id">: show or hide the element with that id (e.g. a reschedule form).
  document.querySelectorAll("[data-toggle]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-toggle"));
    if (!target) return;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      target.hidden = !target.hidden;
    });
  });

  // A form submitted once cannot be submitted twice by a double click.
  document.querySelectorAll("form[method='post']").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) return;
      if (form.dataset.submitted) {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "1";
    });
  });
});
