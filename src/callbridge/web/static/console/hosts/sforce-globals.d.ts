// The parts of Salesforce's Open CTI libraries that Callbridge's host modules use.
// Lightning: sforce.opencti (/support/api/<ver>/lightning/opencti_min.js).
// Classic: sforce.interaction (/support/api/<ver>/interaction.js).
// Only hosts/lightning.js and hosts/classic.js may refer to these: Open CTI retires in February 2028.

interface OpenCtiError {
  code?: string;
  description?: string;
  details?: unknown;
}

interface OpenCtiResponse {
  success: boolean;
  returnValue: any;
  errors: OpenCtiError[] | null;
}

type OpenCtiCallback = (response: OpenCtiResponse) => void;

interface OpenCtiPagePayload {
  url?: string;
  recordId?: string;
  recordName?: string;
  objectType?: string;
  number?: string;
}

interface SforceOpenCti {
  SCREENPOP_TYPE: {
    SOBJECT: string;
    URL: string;
    OBJECTHOME: string;
    LIST: string;
    SEARCH: string;
    NEW_RECORD_MODAL: string;
    FLOW: string;
  };
  CALL_TYPE: { INBOUND: string; OUTBOUND: string; INTERNAL: string };
  screenPop(args: {
    type: string;
    params: Record<string, unknown>;
    defaultFieldValues?: Record<string, string>;
    callback?: OpenCtiCallback;
  }): void;
  searchAndScreenPop(args: {
    searchParams: string;
    queryParams?: string;
    callType: string;
    deferred?: boolean;
    defaultFieldValues?: Record<string, string>;
    callback?: OpenCtiCallback;
  }): void;
  enableClickToDial(args: { callback?: OpenCtiCallback }): void;
  disableClickToDial(args: { callback?: OpenCtiCallback }): void;
  onClickToDial(args: { listener: (payload: OpenCtiPagePayload) => void }): void;
  setSoftphonePanelVisibility(args: { visible: boolean; callback?: OpenCtiCallback }): void;
  onNavigationChange(args: { listener: (payload: OpenCtiPagePayload) => void }): void;
  notifyInitializationComplete(args?: { callback?: OpenCtiCallback }): void;
}

/** Classic answers `{result, error}`; page and click payloads arrive as JSON strings in `result`. */
interface InteractionResponse {
  result: any;
  error: string | null | undefined;
}

type InteractionCallback = (response: InteractionResponse) => void;

interface SforceInteraction {
  screenPop(url: string, force: boolean, callback?: InteractionCallback): void;
  searchAndScreenPop(searchParams: string, queryParams: string, callType: string, callback?: InteractionCallback): void;
  setVisible(visible: boolean, callback?: InteractionCallback): void;
  isInConsole(callback: InteractionCallback): void;
  onFocus(listener: InteractionCallback): void;
  cti: {
    enableClickToDial(callback?: InteractionCallback): void;
    disableClickToDial(callback?: InteractionCallback): void;
    onClickToDial(listener: InteractionCallback): void;
    notifyInitializationComplete(): void;
  };
}

interface Sforce {
  opencti?: SforceOpenCti;
  interaction?: SforceInteraction;
  console?: object;
}

interface Window {
  sforce?: Sforce;
}
