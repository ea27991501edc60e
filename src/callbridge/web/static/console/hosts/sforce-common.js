/// <reference path="./sforce-globals.d.ts" />
// Shared by the two Salesforce host modules (lightning.js, classic.js): finding which
// Salesforce origin framed the console, checking it against the tenant's allow-list, and
// loading Salesforce's Open CTI script from that origin. Nothing else may use Open CTI.

export const DEFAULT_API_VERSION = '62.0';

/**
 * Options shared by the Salesforce hosts.
 * @typedef {import('./host.js').HostOptions & {
 *   apiVersion?: string,
 *   location?: {search: string, ancestorOrigins?: {length: number, [i: number]: string}},
 *   referrer?: string,
 *   loadScript?: (url: string) => Promise<void>,
 * }} SalesforceHostOptions
 */

/**
 * @param {string} value
 * @returns {string} the origin of `value`, or '' when it is not an http(s) URL
 */
function originOf(value) {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : '';
  } catch {
    return '';
  }
}

/**
 * The Salesforce origin that framed the console: the `sfdcIframeOrigin` query parameter Salesforce
 * adds to the softphone URL, else the configured `crmOrigin`, else the referrer, else the first
 * ancestor origin. It must be on the tenant's allow-list; any other origin is refused.
 * @param {SalesforceHostOptions} options
 * @returns {string}
 */
export function resolveSalesforceOrigin(options) {
  const location = options.location ?? window.location;
  const params = new URLSearchParams(location.search);
  let hint = '';
  for (const [key, value] of params) {
    if (key.toLowerCase() === 'sfdciframeorigin') hint = value;
  }
  const ancestors = location.ancestorOrigins;
  const candidate =
    originOf(hint) ||
    originOf(options.crmOrigin ?? '') ||
    originOf(options.referrer ?? document.referrer) ||
    (ancestors && ancestors.length > 0 ? originOf(ancestors[0]) : '');
  if (!candidate) {
    throw new Error('Callbridge cannot tell which Salesforce org opened it (no sfdcIframeOrigin or referrer)');
  }
  const allowed = new Set(options.allowedOrigins.map(originOf).filter(Boolean));
  if (!allowed.has(candidate)) {
    throw new Error(`${candidate} is not an allowed Salesforce origin for this tenant`);
  }
  return candidate;
}

/**
 * Loads a classic (non-module) script and resolves when it has run.
 * @param {string} url
 * @returns {Promise<void>}
 */
export function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    script.async = true;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${url}`));
    document.head.appendChild(script);
  });
}

/**
 * A relative URL (path, query, fragment) for Salesforce's screen-pop calls, which take relative URLs.
 * @param {string} url
 * @param {string} origin
 * @returns {string}
 */
export function relativeUrl(url, origin) {
  const parsed = new URL(url, origin);
  return parsed.pathname + parsed.search + parsed.hash;
}
