// Which CRM host module the console uses, chosen at run time from where it runs:
//
// * inside Salesforce: Lightning (`mode=Lightning` in the softphone URL) or Classic
//   (`sfdcIframeOrigin` / `sfdcIFrameHost` without `mode=Lightning`);
// * inside another page's frame (the built-in CRM's console workspace): builtin, console mode;
// * in a window of its own that a CRM page opened (non-console mode): builtin, talking to the opener;
// * in a window of its own with no CRM behind it: standalone (pops open in browser windows).
//
// `chooseHost` is pure (Node tests it); `createSelectedHost` loads the module it names.

/**
 * What `chooseHost` looks at.
 * @typedef {Object} HostEnvironment
 * @property {string} search           location.search of the console page
 * @property {boolean} framed           the console runs in a frame
 * @property {boolean} hasOpener        a window opened this one (window.opener is set)
 * @property {string} [parentOrigin]    the framing page's origin, when the browser tells (ancestorOrigins)
 */

/**
 * @typedef {'lightning'|'classic'|'builtin'|'standalone'} HostName
 */

/**
 * @param {HostEnvironment} env
 * @returns {HostName}
 */
export function chooseHost(env) {
  const params = new URLSearchParams(env.search);
  /** @type {Record<string, string>} */
  const lower = {};
  for (const [key, value] of params) lower[key.toLowerCase()] = value;
  const salesforce = "sfdciframeorigin" in lower || "sfdciframehost" in lower;
  if ((lower.mode ?? "").toLowerCase() === "lightning") return "lightning";
  if (salesforce) return "classic";
  if (env.framed) return "builtin";
  if (env.hasOpener) return "builtin";
  return "standalone";
}

/**
 * The CRM origin a built-in host talks to: the framing page's origin when it is allowed, else
 * (non-console mode, or a browser that does not tell) every allowed origin is a candidate and the
 * host keeps the one that answers its handshake.
 * @param {string[]} allowedOrigins
 * @param {string} [parentOrigin]
 * @returns {string[]}
 */
export function candidateOrigins(allowedOrigins, parentOrigin) {
  const allowed = allowedOrigins.filter((o) => /^https?:\/\/[^/]+$/.test(o));
  if (parentOrigin && allowed.includes(parentOrigin)) return [parentOrigin];
  return allowed;
}

/**
 * The environment of this page.
 * @returns {HostEnvironment}
 */
export function currentEnvironment() {
  let framed = true;
  try {
    framed = window.self !== window.top;
  } catch {
    framed = true;
  }
  const ancestors = window.location.ancestorOrigins;
  let parentOrigin = ancestors && ancestors.length > 0 ? ancestors[0] : "";
  if (!parentOrigin && framed && document.referrer) {
    try {
      parentOrigin = new URL(document.referrer).origin;
    } catch {
      parentOrigin = "";
    }
  }
  return { search: window.location.search, framed, hasOpener: Boolean(window.opener), parentOrigin };
}

/**
 * Creates and initialises the host this page needs. A built-in host in non-console mode whose opener
 * never answers (not a CRM page) falls back to standalone.
 * @param {string[]} allowedOrigins
 * @param {HostEnvironment} [env]
 * @returns {Promise<import('./host.js').CrmHost>}
 */
export async function createSelectedHost(allowedOrigins, env = currentEnvironment()) {
  const name = chooseHost(env);
  if (name === "lightning" || name === "classic") {
    const module = name === "lightning" ? await import("./lightning.js") : await import("./classic.js");
    const host = module.createHost({ allowedOrigins });
    await host.init();
    return host;
  }
  if (name === "builtin") {
    const { createHost } = await import("./builtin.js");
    const target = env.framed ? window.parent : window.opener;
    const host = createHost({
      allowedOrigins: candidateOrigins(allowedOrigins, env.parentOrigin),
      target,
      timeoutMs: env.framed ? 5000 : 1500,
    });
    try {
      await host.init();
      return host;
    } catch (error) {
      if (env.framed) throw error;
    }
  }
  const { createHost } = await import("./standalone.js");
  const host = createHost({ allowedOrigins });
  await host.init();
  return host;
}
