/// <reference path="./sforce-globals.d.ts" />
// The console's host module for Salesforce Lightning Experience, through Open CTI
// (sforce.opencti, loaded from the org's own domain). Open CTI retires in February 2028:
// only this module and classic.js may depend on it.

import { DEFAULT_API_VERSION, loadScript, relativeUrl, resolveSalesforceOrigin } from './sforce-common.js';

/** @typedef {import('./host.js').CrmHost} CrmHost */
/** @typedef {import('./host.js').PopTarget} PopTarget */
/** @typedef {import('./host.js').ClickToDialRequest} ClickToDialRequest */
/** @typedef {import('./host.js').PageInfo} PageInfo */
/** @typedef {import('./sforce-common.js').SalesforceHostOptions} SalesforceHostOptions */

/**
 * @param {SalesforceHostOptions} options
 * @returns {CrmHost & {searchAndScreenPop: (query: string, direction?: 'inbound'|'outbound'|'internal') => Promise<unknown>, origin: () => string}}
 */
export function createHost(options) {
  const apiVersion = options.apiVersion ?? DEFAULT_API_VERSION;
  const load = options.loadScript ?? loadScript;
  /** @type {SforceOpenCti | null} */
  let api = null;
  let origin = '';
  /** @type {((request: ClickToDialRequest) => void) | null} */
  let dialHandler = null;

  /** @returns {SforceOpenCti} */
  function opencti() {
    if (!api) throw new Error('the Lightning host is not initialised');
    return api;
  }

  /**
   * Calls one Open CTI method and settles with its `returnValue`, or rejects with its errors.
   * @param {(callback: OpenCtiCallback) => void} invoke
   * @returns {Promise<any>}
   */
  function call(invoke) {
    return new Promise((resolve, reject) => {
      invoke((response) => {
        if (response && response.success) {
          resolve(response.returnValue);
        } else {
          const errors = (response && response.errors) || [];
          const text = errors.map((e) => `${e.code ?? ''} ${e.description ?? ''}`.trim()).join('; ');
          reject(new Error(`Open CTI refused the call: ${text || 'unknown error'}`));
        }
      });
    });
  }

  return {
    name: 'lightning',
    // Lightning always pops into the existing window (a workspace tab in console apps).
    consoleMode: true,
    origin: () => origin,

    async init() {
      origin = resolveSalesforceOrigin(options);
      await load(`${origin}/support/api/${apiVersion}/lightning/opencti_min.js`);
      const loaded = window.sforce?.opencti;
      if (!loaded) throw new Error('Open CTI did not load from ' + origin);
      api = loaded;
      await call((callback) => opencti().notifyInitializationComplete({ callback }));
    },

    async screenPop(target) {
      const cti = opencti();
      const types = cti.SCREENPOP_TYPE;
      switch (target.kind) {
        case 'record':
          await call((callback) =>
            cti.screenPop({ type: types.SOBJECT, params: { recordId: target.recordId ?? '' }, callback }),
          );
          return;
        case 'search': {
          const query = target.query ?? '';
          if (query.length >= 3) {
            await call((callback) => cti.screenPop({ type: types.SEARCH, params: { searchString: query }, callback }));
          } else {
            await call((callback) =>
              cti.searchAndScreenPop({ searchParams: query, callType: cti.CALL_TYPE.INBOUND, callback }),
            );
          }
          return;
        }
        case 'new_record':
          await call((callback) =>
            cti.screenPop({
              type: types.NEW_RECORD_MODAL,
              params: { entityName: target.objectType ?? '' },
              defaultFieldValues: { ...(target.prefill ?? {}) },
              callback,
            }),
          );
          return;
        case 'url':
          await call((callback) =>
            cti.screenPop({ type: types.URL, params: { url: relativeUrl(target.url, origin) }, callback }),
          );
          return;
        default:
          throw new Error(`unknown screen-pop kind ${String(/** @type {{kind: unknown}} */ (target).kind)}`);
      }
    },

    /** Lets Salesforce search with the softphone layout's rules and pop what it finds. */
    async searchAndScreenPop(query, direction = 'inbound') {
      const cti = opencti();
      const callType = { inbound: cti.CALL_TYPE.INBOUND, outbound: cti.CALL_TYPE.OUTBOUND, internal: cti.CALL_TYPE.INTERNAL }[
        direction
      ];
      return call((callback) => cti.searchAndScreenPop({ searchParams: query, callType, callback }));
    },

    async enableClickToDial(handler) {
      const cti = opencti();
      const first = dialHandler === null;
      dialHandler = handler;
      if (first) {
        cti.onClickToDial({
          listener: (payload) =>
            dialHandler?.({
              number: String(payload.number ?? ''),
              recordId: payload.recordId,
              objectType: payload.objectType,
              recordName: payload.recordName,
            }),
        });
      }
      await call((callback) => cti.enableClickToDial({ callback }));
    },

    async disableClickToDial() {
      await call((callback) => opencti().disableClickToDial({ callback }));
    },

    async setPanelVisible(visible) {
      await call((callback) => opencti().setSoftphonePanelVisibility({ visible, callback }));
    },

    onNavigationChange(handler) {
      opencti().onNavigationChange({
        listener: (payload) =>
          handler({ url: String(payload.url ?? ''), recordId: payload.recordId, objectType: payload.objectType }),
      });
    },
  };
}
