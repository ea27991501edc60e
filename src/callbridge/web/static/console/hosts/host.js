// The contract between the agent console and the CRM page that hosts it.
//
// Each host (the built-in CRM, Salesforce Lightning through Open CTI,
// Salesforce Classic, a stand-alone window) is one module exporting
// `createHost(options)` that returns a CrmHost. The console knows nothing
// else about its host: Open CTI is due to retire, so nothing outside the
// Salesforce host modules may depend on it.

/**
 * A screen-pop target, as sent by the Callbridge server in a pop directive.
 * @typedef {Object} PopTarget
 * @property {'record'|'search'|'new_record'|'url'} kind
 * @property {string} url            Absolute URL of the page in the CRM.
 * @property {string} [objectType]   e.g. "contact", "Contact", "Case".
 * @property {string} [recordId]
 * @property {string} [query]        The search text for kind "search".
 * @property {Record<string, string>} [prefill]  Field values for kind "new_record".
 */

/**
 * Non-console mode window properties, from the admin's screen-pop settings.
 * @typedef {Object} WindowProperties
 * @property {number} width
 * @property {number} height
 * @property {boolean} reuse   true: refresh the same window; false: a new window per pop.
 */

/**
 * How to open a pop.
 * @typedef {Object} PopOptions
 * @property {boolean} [background]  open it without taking the agent's focus (an offer not yet accepted)
 */

/**
 * A pop the host can bring to front or close later (console mode: a workspace tab).
 * @typedef {Object} PopHandle
 * @property {string} id
 * @property {boolean} created   false when the page was open already: such a page is never closed for the pop
 */

/**
 * A click on a phone number in the CRM.
 * @typedef {Object} ClickToDialRequest
 * @property {string} number
 * @property {string} [recordId]
 * @property {string} [objectType]
 * @property {string} [recordName]
 */

/**
 * @typedef {Object} PageInfo
 * @property {string} url
 * @property {string} [recordId]
 * @property {string} [objectType]
 */

/**
 * @typedef {Object} CrmHost
 * @property {string} name                        "builtin", "lightning", "classic", "standalone".
 * @property {boolean} consoleMode                true when pops open as tabs of a CRM workspace.
 * @property {() => Promise<void>} init            Connects to the host page (loads its API, says ready).
 * @property {(target: PopTarget, window: WindowProperties, options?: PopOptions) => Promise<PopHandle | null | void>} screenPop
 * @property {boolean} [popsInBackground]      true when `screenPop` can honour `background`; otherwise the console
 *                                              holds a pop of an offer until the agent accepts it
 * @property {(handle: PopHandle) => Promise<void>} [focusPop]   brings a background pop to front
 * @property {(handle: PopHandle) => Promise<void>} [closePop]   closes a pop (of an offer the agent did not take)
 * @property {(handler: (request: ClickToDialRequest) => void) => Promise<void>} enableClickToDial
 * @property {() => Promise<void>} disableClickToDial
 * @property {(visible: boolean) => Promise<void>} setPanelVisible
 * @property {(handler: (page: PageInfo) => void) => void} onNavigationChange
 */

/**
 * @typedef {Object} HostOptions
 * @property {string[]} allowedOrigins   The tenant's allowed CRM origins; messages from others are ignored.
 * @property {string} [crmOrigin]        The CRM origin this console was opened from, when known.
 */

export {};
