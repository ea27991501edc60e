// The live connection: ticket → WebSocket → `init` snapshot → ordered events, a ping every heartbeat,
// and reconnection by itself after any cut (docs/events.md). Every (re)connection starts again with a
// new ticket and a new snapshot that replaces everything; events are never replayed.

/**
 * @typedef {'connecting'|'connected'|'offline'|'signed_out'} LinkState
 */

/**
 * @typedef {Object} ConnectionHandlers
 * @property {(snapshot: import('./state.js').Snapshot) => void} onSnapshot
 * @property {(event: import('./state.js').ConsoleEvent) => void} onEvent
 * @property {(state: LinkState, detail: string) => void} onState
 */

/**
 * Delay before reconnection attempt `attempt` (0-based): 0.5 s doubling to 10 s, with jitter.
 * @param {number} attempt
 * @param {number} [random]  0…1
 * @returns {number} milliseconds
 */
export function backoff(attempt, random = Math.random()) {
  const base = Math.min(10_000, 500 * 2 ** attempt);
  return Math.round(base * (0.75 + 0.5 * random));
}

export class LiveConnection {
  /**
   * @param {() => Promise<string>} urlFactory  gets a fresh ticket and returns the WebSocket URL
   * @param {ConnectionHandlers} handlers
   */
  constructor(urlFactory, handlers) {
    this.urlFactory = urlFactory;
    this.handlers = handlers;
    /** @type {WebSocket|null} */
    this.socket = null;
    this.attempt = 0;
    this.heartbeatSeconds = 10;
    this.nextId = 1;
    /** @type {number|null} */
    this.awaitingPong = null;
    /** @type {ReturnType<typeof setInterval>|null} */
    this.pinger = null;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.retry = null;
    this.stopped = false;
    this.generation = 0;
    window.addEventListener("offline", () => this.drop("the network is down"));
    window.addEventListener("online", () => this.reconnectNow());
  }

  start() {
    this.stopped = false;
    void this.open();
  }

  stop() {
    this.stopped = true;
    this.teardown();
  }

  reconnectNow() {
    if (this.stopped) return;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.attempt = 0;
    if (!this.socket) void this.open();
  }

  /** @param {string} detail */
  drop(detail) {
    if (this.stopped) return;
    this.teardown();
    this.handlers.onState("offline", detail);
    this.schedule();
  }

  teardown() {
    this.generation += 1;
    if (this.pinger) clearInterval(this.pinger);
    this.pinger = null;
    this.awaitingPong = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      try {
        socket.close(1000, "reconnecting");
      } catch {
        // already closed
      }
    }
  }

  schedule() {
    if (this.stopped || this.retry) return;
    if (!navigator.onLine) return; // the `online` event brings us back
    const delay = backoff(this.attempt);
    this.attempt += 1;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.open();
    }, delay);
  }

  async open() {
    if (this.stopped || this.socket) return;
    const generation = ++this.generation;
    this.handlers.onState("connecting", "");
    let url;
    try {
      url = await this.urlFactory();
    } catch (error) {
      if (generation !== this.generation) return;
      const message = error instanceof Error ? error.message : String(error);
      if (message.includes("401")) {
        this.stopped = true;
        this.handlers.onState("signed_out", "your session has ended: sign in again");
        return;
      }
      this.handlers.onState("offline", "cannot reach Callbridge");
      this.schedule();
      return;
    }
    if (generation !== this.generation || this.stopped) return;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("message", (message) => {
      if (generation !== this.generation) return;
      let frame;
      try {
        frame = JSON.parse(String(message.data));
      } catch {
        return;
      }
      if (frame.type === "init") {
        this.attempt = 0;
        this.heartbeatSeconds = Number(frame.heartbeat_seconds) || 10;
        this.startPinging(generation);
        this.handlers.onSnapshot(frame.snapshot);
        this.handlers.onState("connected", "");
      } else if (frame.type === "event") {
        this.handlers.onEvent(frame.event);
      } else if (frame.type === "result" && frame.id === this.awaitingPong) {
        this.awaitingPong = null;
      }
    });
    socket.addEventListener("close", (event) => {
      if (generation !== this.generation) return;
      this.socket = null;
      if (this.pinger) clearInterval(this.pinger);
      this.pinger = null;
      const detail = event.code === 4003 ? "this CRM page is not allowed: ask your admin" : "connection lost";
      this.handlers.onState("offline", detail);
      if (event.code === 4003 || event.code === 4004) {
        this.stopped = true;
        return;
      }
      this.schedule();
    });
  }

  /** @param {number} generation */
  startPinging(generation) {
    if (this.pinger) clearInterval(this.pinger);
    // Ping a little more often than required; a ping still unanswered at the next one means the link is dead.
    const every = Math.max(1000, (this.heartbeatSeconds * 1000) / 2);
    this.pinger = setInterval(() => {
      if (generation !== this.generation || !this.socket) return;
      if (this.awaitingPong !== null) {
        this.drop("no answer from Callbridge");
        return;
      }
      const id = this.nextId++;
      this.awaitingPong = id;
      try {
        this.socket.send(JSON.stringify({ id, type: "ping" }));
      } catch {
        this.drop("connection lost");
      }
    }, every);
  }
}
