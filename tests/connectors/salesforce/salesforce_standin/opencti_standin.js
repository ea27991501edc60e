// STAND-IN for Salesforce's Open CTI libraries (test double, not Salesforce's code).
//
// Served by the fake org at /support/api/<ver>/lightning/opencti_min.js (sforce.opencti) and
// /support/api/<ver>/interaction.js (sforce.interaction), and at
// /support/console/<ver>/integration.js (sets sforce.console). It implements the documented
// surface (salesforce.md sections 1.2 to 1.4) by posting each call to the parent page,
// opencti_standin.html, which records it and answers. Like the real library it only talks to
// the origin it was loaded from and ignores messages from any other origin.
(function () {
  var script = document.currentScript;
  var orgOrigin = new URL(script.src).origin;
  var sforce = (window.sforce = window.sforce || {});
  if (script.src.indexOf('/support/console/') !== -1) {
    sforce.console = { standin: true };
    send('console', 'loaded', []);
    return;
  }
  var seq = 0;
  var pending = {};
  var listeners = {};

  function plain(value) {
    return JSON.parse(JSON.stringify(value === undefined ? null : value));
  }

  function send(api, method, args, callback) {
    var id = ++seq;
    if (callback) pending[id] = callback;
    window.parent.postMessage({ standin: 'opencti', id: id, api: api, method: method, args: plain(args) }, orgOrigin);
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== orgOrigin || !event.data || event.data.standin !== 'opencti') return;
    var data = event.data;
    if (data.kind === 'response' && pending[data.id]) {
      var callback = pending[data.id];
      delete pending[data.id];
      callback(data.response);
    } else if (data.kind === 'event' && listeners[data.event]) {
      listeners[data.event](data.payload);
    }
  });

  function lightning(method) {
    return function (args) {
      args = args || {};
      var callback = args.callback;
      var rest = {};
      for (var key in args) if (key !== 'callback' && key !== 'listener') rest[key] = args[key];
      if (args.listener) listeners[method] = args.listener;
      send('opencti', method, rest, callback);
    };
  }

  if (script.src.indexOf('/lightning/') !== -1) {
    sforce.opencti = {
      SCREENPOP_TYPE: {
        SOBJECT: 'sobject',
        URL: 'url',
        OBJECTHOME: 'objecthome',
        LIST: 'list',
        SEARCH: 'search',
        NEW_RECORD_MODAL: 'newrecordmodal',
        FLOW: 'flow',
      },
      CALL_TYPE: { INBOUND: 'inbound', OUTBOUND: 'outbound', INTERNAL: 'internal' },
    };
    [
      'screenPop',
      'searchAndScreenPop',
      'saveLog',
      'enableClickToDial',
      'disableClickToDial',
      'onClickToDial',
      'setSoftphonePanelVisibility',
      'isSoftphonePanelVisible',
      'setSoftphonePanelHeight',
      'setSoftphonePanelWidth',
      'getAppViewInfo',
      'onNavigationChange',
      'refreshView',
      'getCallCenterSettings',
      'getSoftphoneLayout',
      'notifyInitializationComplete',
    ].forEach(function (m) {
      sforce.opencti[m] = lightning(m);
    });
  } else {
    // Classic: positional arguments, the callback last.
    var classic = function (method, arity) {
      return function () {
        var args = Array.prototype.slice.call(arguments);
        var callback = typeof args[arity] === 'function' ? args[arity] : undefined;
        send('interaction', method, args.slice(0, arity), callback);
      };
    };
    var listen = function (method, event) {
      return function (listener) {
        listeners[event] = listener;
        send('interaction', method, []);
      };
    };
    sforce.interaction = {
      screenPop: classic('screenPop', 2),
      searchAndScreenPop: classic('searchAndScreenPop', 3),
      searchAndGetScreenPopUrl: classic('searchAndGetScreenPopUrl', 3),
      saveLog: classic('saveLog', 2),
      setVisible: classic('setVisible', 1),
      isVisible: classic('isVisible', 0),
      isInConsole: classic('isInConsole', 0),
      getPageInfo: classic('getPageInfo', 0),
      refreshPage: classic('refreshPage', 0),
      onFocus: listen('onFocus', 'onFocus'),
      cti: {
        getCallCenterSettings: classic('cti.getCallCenterSettings', 0),
        getSoftphoneLayout: classic('cti.getSoftphoneLayout', 0),
        setSoftphoneHeight: classic('cti.setSoftphoneHeight', 1),
        setSoftphoneWidth: classic('cti.setSoftphoneWidth', 1),
        enableClickToDial: classic('cti.enableClickToDial', 0),
        disableClickToDial: classic('cti.disableClickToDial', 0),
        onClickToDial: listen('cti.onClickToDial', 'onClickToDial'),
        notifyInitializationComplete: classic('cti.notifyInitializationComplete', 0),
      },
    };
  }
})();
