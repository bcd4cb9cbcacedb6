// Behaviour htmx does not cover: modal dialogs, copying a token value, and error messages.
// Kept in this file (no inline scripts) so the Content-Security-Policy can forbid them.
(function () {
  "use strict";
  let opener = null;

  function openDialogs(root) {
    root.querySelectorAll("dialog[data-modal]:not([open])").forEach(function (dialog) {
      dialog.addEventListener("close", function () {
        dialog.remove();
        if (opener && document.body.contains(opener)) opener.focus();
      });
      dialog.showModal();
    });
  }

  function showStatus(text) {
    const status = document.getElementById("status");
    if (!status) return;
    const message = document.createElement("p");
    message.className = "message message-error";
    message.textContent = text;
    status.replaceChildren(message);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.target && event.detail.target.id === "dialog-slot") opener = event.detail.elt;
  });
  document.addEventListener("htmx:afterSettle", function () { openDialogs(document); });
  // A form inside a dialog that got its answer closes the dialog.
  document.addEventListener("htmx:afterRequest", function (event) {
    const dialog = event.detail.elt.closest && event.detail.elt.closest("dialog");
    if (dialog && event.detail.requestConfig.verb === "post") dialog.close();
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status >= 500) showStatus("Something went wrong on our side. Nothing was changed; please try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    showStatus("The server could not be reached. Check your connection and try again.");
  });
  document.addEventListener("click", function (event) {
    const closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
    const copier = event.target.closest("[data-copy-from]");
    if (copier) {
      const field = document.getElementById(copier.dataset.copyFrom);
      const feedback = copier.parentElement.querySelector(".copy-feedback");
      navigator.clipboard.writeText(field.value).then(
        function () { if (feedback) feedback.textContent = "Copied to the clipboard."; },
        function () { field.select(); if (feedback) feedback.textContent = "Press Ctrl+C to copy."; }
      );
    }
  });
  document.addEventListener("DOMContentLoaded", function () { openDialogs(document); });
})();
