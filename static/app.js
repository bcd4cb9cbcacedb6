// Behaviour htmx does not cover: modal dialogs, focus after swaps, copying a token value, local
// times, history restores and error messages.
// Kept in this file (no inline scripts) so the Content-Security-Policy can forbid them.
(function () {
  "use strict";
  let opener = null;
  let focusKey = null;

  function statusArea() { return document.getElementById("status"); }

  // Every dialog the server sends (revoke/_dialog.html) is modal: shown on arrival.
  function openDialogs(root) {
    root.querySelectorAll("dialog:not([open])").forEach(function (dialog) {
      dialog.addEventListener("close", function () {
        dialog.remove();
        // Back to the button that opened it; after a revoke that row is gone, so to the message,
        // which is sticky: focusing it must not scroll the superuser away from their place.
        if (opener && document.body.contains(opener)) opener.focus();
        else if (statusArea()) statusArea().focus({ preventScroll: true });
      });
      dialog.showModal();
    });
  }

  function showStatus(text) {
    const status = statusArea();
    if (!status) return;
    const message = document.createElement("p");
    message.className = "message message-error";
    message.textContent = text;
    status.replaceChildren(message);
  }

  // Exact times are shown in UTC; beside them, the reader's own time when that differs.
  function addLocalTimes(root) {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    root.querySelectorAll(".exact[data-utc]:not([data-local-done])").forEach(function (exact) {
      exact.dataset.localDone = "1";
      const moment = new Date(exact.dataset.utc.replace(/\.\d+/, "")); // no microseconds
      if (isNaN(moment) || moment.getTimezoneOffset() === 0) return;
      const local = document.createElement("span");
      local.className = "local";
      local.textContent = moment.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })
        + " your time (" + zone + ")";
      exact.appendChild(local);
    });
  }

  // After Back or Forward, the search box says what the restored table shows (the URL's q).
  function syncSearchBoxWithUrl() {
    const box = document.getElementById("token-search-q");
    if (box) box.value = new URLSearchParams(window.location.search).get("q") || "";
  }

  function revealScriptOnlyControls(root) {
    root.querySelectorAll("[data-copy-from][hidden]").forEach(function (button) { button.hidden = false; });
  }

  function enhance(root) {
    openDialogs(root);
    addLocalTimes(root);
    revealScriptOnlyControls(root);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.target && event.detail.target.id === "dialog-slot") opener = event.detail.elt;
    // A header or pager link is replaced with the table: its twin gets the focus back.
    const active = document.activeElement;
    focusKey = active && active.dataset ? active.dataset.focusKey || null : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    enhance(document);
    // A Revoke whose row was already gone opens no dialog: its answer is a message and the
    // refreshed table drops the row, and with it the pressed button. The focus goes to the
    // message rather than to <body>.
    if (opener && !document.body.contains(opener) && !document.querySelector("dialog[open]")) {
      opener = null;
      if (statusArea()) statusArea().focus({ preventScroll: true });
    }
    if (focusKey) {
      const twin = document.querySelector('[data-focus-key="' + focusKey + '"]')
        || document.querySelector('[data-focus-key^="page-"]');
      if (twin) twin.focus();
      focusKey = null;
    }
  });
  // A form inside a dialog that got its answer closes the dialog.
  document.addEventListener("htmx:afterRequest", function (event) {
    const dialog = event.detail.elt.closest && event.detail.elt.closest("dialog");
    if (dialog && event.detail.requestConfig.verb === "post") {
      opener = null; // its row is about to leave the table: focus goes to the status message
      if (dialog.open) dialog.close();
    }
  });
  document.addEventListener("htmx:historyRestore", function () {
    syncSearchBoxWithUrl();
    enhance(document);
  });
  window.addEventListener("pageshow", syncSearchBoxWithUrl);
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status >= 500) showStatus("Something went wrong on our side. Nothing was changed; please try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    showStatus("The server could not be reached. Check your connection and try again.");
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input.token-value")) event.target.select();
  });
  document.addEventListener("click", function (event) {
    const closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
    const copier = event.target.closest("[data-copy-from]");
    if (copier) {
      const field = document.getElementById(copier.dataset.copyFrom);
      const feedback = copier.parentElement.querySelector(".copy-feedback");
      const mac = /Mac|iPhone|iPad/.test(navigator.userAgent);
      navigator.clipboard.writeText(field.value).then(
        function () { if (feedback) feedback.textContent = "Copied to the clipboard."; },
        function () {
          field.select();
          if (feedback) feedback.textContent = "Press " + (mac ? "⌘C" : "Ctrl+C") + " to copy.";
        }
      );
    }
  });
  // "Select every token on this page": checks or clears the rows' boxes of the bulk form.
  document.addEventListener("change", function (event) {
    const all = event.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]').forEach(
      function (box) { box.checked = all.checked; }
    );
  });
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
})();
