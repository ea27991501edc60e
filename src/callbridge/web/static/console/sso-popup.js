// The end of a sign-in in a pop-up: tell the console window that opened it, then close.
//
// The message goes only to Callbridge's own origin (never "*"): the console frame that opened this
// pop-up is a Callbridge page, whatever CRM page frames it. A window opened some other way (no opener)
// just shows the page.

const data = document.getElementById("sso-notice");
if (data) {
  const targetOrigin = data.dataset.targetOrigin || window.location.origin;
  /** @type {unknown} */
  const message = JSON.parse(data.textContent || "null");
  if (window.opener && message) {
    window.opener.postMessage(message, targetOrigin);
    const signedIn = /** @type {{type?: string}} */ (message).type === "callbridge-sso";
    if (signedIn) window.close();
  }
}
