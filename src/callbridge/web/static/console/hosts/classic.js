/// <reference path="./sforce-globals.d.ts" />
// The console's host module for Salesforce Classic, through Open CTI's interaction.js
// (sforce.interaction), in the Salesforce console (with the console toolkit, integration.js)
// or a standard Classic app. Open CTI retires in February 2028: only this module and
// lightning.js may depend on it.

import { DEFAULT_API_VERSION, loadScript, relativeUrl, resolveSalesforceOrigin } from './sforce-common.js';

/** @typedef {import('./host.js').CrmHost} CrmHost */
/** @typedef {import('./host.js').ClickToDialRequest} ClickToDialRequest */
/** @typedef {import('./sforce-common.js').SalesforceHostOptions} SalesforceHostOptions */

const NEW_RECORD_PREFIX = /** @type {Record<string, string>} */ ({
  Account: '001',
  Contact: '003',
  Lead: '00Q',
  Case: '500',
  Opportunity: '006',
});

/**
 * Classic answers `{result, error}`; a truthy `error` means the call failed.
 * @param {(callback: InteractionCallback) => void} invoke
 * @returns {Promise<any>}
 */
function call(invoke) {
  return new Promise((resolve, reject) => {
    invoke((response) => {
      if (response && response.error) reject(new Error(`Open CTI refused the call: ${response.error}`));
      else resolve(response ? response.result : undefined);
    });
  });
}

/**
 * Classic passes page and click details as a JSON string in `result`.
 * @param {InteractionResponse} response
 * @returns {Record<string, string>}
 */
function parseResult(response) {
  if (!response || response.error || response.result == null) return {};
  if (typeof response.result === 'string') {
    try {
      return JSON.parse(response.result);
    } catch {
      return {};
    }
  }
  return response.result;
}

/**
 * @param {SalesforceHostOptions} options
 * @returns {CrmHost & {origin: () => string}}
 */
export function createHost(options) {
  const apiVersion = options.apiVersion ?? DEFAULT_API_VERSION;
  const load = options.loadScript ?? loadScript;
  /** @type {SforceInteraction | null} */
  let api = null;
  let origin = '';
  let inConsole = false;
  /** @type {((request: ClickToDialRequest) => void) | null} */
  let dialHandler = null;

  /** @returns {SforceInteraction} */
  function interaction() {
    if (!api) throw new Error('the Classic host is not initialised');
    return api;
  }

  /** @param {string} url */
  async function pop(url) {
    await call((callback) => interaction().screenPop(url, true, callback));
  }

  return {
    name: 'classic',
    get consoleMode() {
      return inConsole;
    },
    origin: () => origin,

    async init() {
      origin = resolveSalesforceOrigin(options);
      await load(`${origin}/support/api/${apiVersion}/interaction.js`);
      const loaded = window.sforce?.interaction;
      if (!loaded) throw new Error('Open CTI did not load from ' + origin);
      api = loaded;
      const result = await call((callback) => interaction().isInConsole(callback));
      inConsole = result === true || result === 'true';
      if (inConsole) {
        // The Salesforce console toolkit: tab APIs and console CTI events.
        await load(`${origin}/support/console/${apiVersion}/integration.js`);
      }
      interaction().cti.notifyInitializationComplete();
    },

    async screenPop(target) {
      switch (target.kind) {
        case 'record':
          await pop('/' + encodeURIComponent(target.recordId ?? ''));
          return;
        case 'search':
          await call((callback) => interaction().searchAndScreenPop(target.query ?? '', '', 'inbound', callback));
          return;
        case 'new_record': {
          const prefix = NEW_RECORD_PREFIX[target.objectType ?? ''];
          await pop(prefix ? `/${prefix}/e` : relativeUrl(target.url, origin));
          return;
        }
        case 'url':
          await pop(relativeUrl(target.url, origin));
          return;
        default:
          throw new Error(`unknown screen-pop kind ${String(/** @type {{kind: unknown}} */ (target).kind)}`);
      }
    },

    async enableClickToDial(handler) {
      const first = dialHandler === null;
      dialHandler = handler;
      if (first) {
        interaction().cti.onClickToDial((response) => {
          const payload = parseResult(response);
          dialHandler?.({
            number: String(payload.number ?? ''),
            recordId: payload.objectId,
            objectType: payload.object,
            recordName: payload.objectName ?? payload.displayName,
          });
        });
      }
      await call((callback) => interaction().cti.enableClickToDial(callback));
    },

    async disableClickToDial() {
      await call((callback) => interaction().cti.disableClickToDial(callback));
    },

    async setPanelVisible(visible) {
      await call((callback) => interaction().setVisible(visible, callback));
    },

    onNavigationChange(handler) {
      interaction().onFocus((response) => {
        const page = parseResult(response);
        handler({ url: String(page.url ?? ''), recordId: page.objectId, objectType: page.object });
      });
    },
  };
}
