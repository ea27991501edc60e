// Callbridge chat widget: one script tag on any allowed web site.
//
//   <script src="https://callbridge.example/static/app/chat/widget.js"
//           data-tenant="acme" data-queue="web-chat" async></script>
//
// It draws itself in a shadow root (no CSS leaks either way), asks for the pre-chat form, then talks to
// Callbridge over the customer WebSocket (protocol: docs/channels.md). Every message is shown with
// textContent: markup typed by either side stays text.
(function () {
  "use strict";

  /**
   * @typedef {{name: string, label: string, required: boolean, max_length: number}} FormField
   * @typedef {{id: string, seq: number, sender: "customer" | "agent", agent_id: string | null, text: string,
   *            sent_at: number, delivered_at: number | null}} Message
   * @typedef {{conversation_id: string, token: string, websocket: string, last_seq: number}} Session
   * @typedef {{error: string, message: string, field: string | null}} ErrorBody
   */

  const script = /** @type {HTMLScriptElement | null} */ (document.currentScript);
  if (!script || !script.dataset.tenant || !script.dataset.queue) {
    console.error("Callbridge chat: the script tag needs data-tenant and data-queue");
    return;
  }
  const tenant = script.dataset.tenant;
  const queue = script.dataset.queue;
  const base = new URL(script.src).origin;
  const storageKey = `callbridge-chat:${tenant}:${queue}`;

  const STYLE = `
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0; border-radius: 24px;
      padding: 12px 18px; background: #2f6fde; color: #fff; font-size: 15px; font-weight: 600; cursor: pointer;
      box-shadow: 0 4px 14px rgba(0,0,0,.2); }
    .panel { position: fixed; right: 20px; bottom: 20px; z-index: 2147483001; width: 340px; max-width: calc(100vw - 24px);
      height: 480px; max-height: calc(100vh - 40px); display: flex; flex-direction: column; background: #fff;
      color: #1d2330; border: 1px solid #e2e5ea; border-radius: 12px; box-shadow: 0 8px 28px rgba(0,0,0,.22);
      font-size: 14px; overflow: hidden; }
    .panel[hidden], .launcher[hidden] { display: none; }
    header { display: flex; align-items: center; justify-content: space-between; padding: 10px 12px;
      background: #16233b; color: #fff; font-weight: 600; }
    header button { background: transparent; color: #cfd8e8; border: 1px solid #50607c; border-radius: 6px;
      padding: 3px 8px; cursor: pointer; font-size: 12px; }
    .status { padding: 6px 12px; font-size: 12px; color: #5d6675; border-bottom: 1px solid #e2e5ea; }
    .body { flex: 1; overflow-y: auto; padding: 10px 12px; }
    form label { display: block; font-weight: 600; margin: 8px 0 3px; font-size: 13px; }
    form input { width: 100%; padding: 7px 8px; border: 1px solid #cfd4dc; border-radius: 6px; font-size: 14px; }
    form button, .send { margin-top: 12px; background: #2f6fde; color: #fff; border: 0; border-radius: 6px;
      padding: 8px 14px; font-size: 14px; cursor: pointer; }
    .error { color: #c53030; font-size: 12px; margin-top: 3px; }
    .messages { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 6px; }
    .messages li { max-width: 85%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap;
      overflow-wrap: anywhere; }
    .messages li.customer { align-self: flex-end; background: #2f6fde; color: #fff; }
    .messages li.agent { align-self: flex-start; background: #eef1f5; }
    .messages li .meta { display: block; font-size: 10px; opacity: .75; margin-top: 2px; }
    .typing { min-height: 18px; padding: 0 12px; font-size: 12px; color: #5d6675; font-style: italic; }
    .compose { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #e2e5ea; }
    .compose textarea { flex: 1; resize: none; height: 40px; padding: 6px 8px; border: 1px solid #cfd4dc;
      border-radius: 6px; font-size: 14px; }
    .compose .send { margin: 0; }
    .compose[hidden] { display: none; }
  `;

  const host = document.createElement("div");
  host.setAttribute("data-callbridge-chat", "");
  const root = host.attachShadow({ mode: "open" });

  /**
   * @template {keyof HTMLElementTagNameMap} K
   * @param {K} tag
   * @param {string} [className]
   * @param {string} [text]
   * @returns {HTMLElementTagNameMap[K]}
   */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const style = el("style");
  style.textContent = STYLE;
  const launcher = el("button", "launcher", "Chat with us");
  launcher.type = "button";
  const panel = el("section", "panel");
  panel.hidden = true;
  panel.setAttribute("aria-label", "Chat");
  const header = el("header");
  const title = el("span", "", "Chat with us");
  const endButton = el("button", "", "Close");
  endButton.type = "button";
  header.append(title, endButton);
  const status = el("div", "status");
  status.setAttribute("role", "status");
  const body = el("div", "body");
  const typing = el("div", "typing");
  const compose = el("form", "compose");
  compose.hidden = true;
  const input = el("textarea");
  input.setAttribute("aria-label", "Your message");
  input.placeholder = "Write a message…";
  const send = el("button", "send", "Send");
  send.type = "submit";
  compose.append(input, send);
  panel.append(header, status, body, typing, compose);
  root.append(style, launcher, panel);

  /** @type {WebSocket | null} */
  let socket = null;
  /** @type {Session | null} */
  let session = null;
  let ended = false;
  let reconnectDelay = 1000;
  /** @type {Map<number, HTMLLIElement>} */
  const shown = new Map();
  /** @type {Map<string, HTMLLIElement>} */
  const pending = new Map();
  const list = el("ul", "messages");
  let lastTypingSent = 0;
  /** @type {number | undefined} */
  let typingIdle;
  /** @type {number | undefined} */
  let typingHide;

  /** @returns {Session | null} */
  function loadSession() {
    try {
      const raw = sessionStorage.getItem(storageKey);
      return raw ? /** @type {Session} */ (JSON.parse(raw)) : null;
    } catch {
      return null;
    }
  }

  function saveSession() {
    try {
      if (session) sessionStorage.setItem(storageKey, JSON.stringify(session));
      else sessionStorage.removeItem(storageKey);
    } catch {
      // storage may be unavailable (private mode): the chat still works until the page closes
    }
  }

  /** @param {string} text */
  function setStatus(text) {
    status.textContent = text;
  }

  function open() {
    launcher.hidden = true;
    panel.hidden = false;
    if (session) {
      showConversation();
      connect();
    } else {
      void showForm();
    }
  }

  function close() {
    if (session && !ended && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "leave" }));
    }
    finish();
    panel.hidden = true;
    launcher.hidden = false;
  }

  function finish() {
    session = null;
    saveSession();
    compose.hidden = true;
    typing.textContent = "";
  }

  async function showForm() {
    body.replaceChildren();
    compose.hidden = true;
    endButton.textContent = "Close";
    setStatus("Tell us who you are and we will connect you to an agent.");
    /** @type {FormField[]} */
    let fields;
    try {
      const response = await fetch(`${base}/chat/v1/${encodeURIComponent(tenant)}/widget?queue=${encodeURIComponent(queue)}`);
      if (!response.ok) throw new Error(String(response.status));
      fields = /** @type {{fields: FormField[]}} */ (await response.json()).fields;
    } catch {
      setStatus("Chat is not available on this page right now.");
      return;
    }
    const form = el("form");
    form.noValidate = true;
    /** @type {Map<string, {input: HTMLInputElement, error: HTMLDivElement}>} */
    const inputs = new Map();
    for (const field of fields) {
      const id = `cb-${field.name}`;
      const label = el("label", "", field.label + (field.required ? " *" : ""));
      label.htmlFor = id;
      const box = el("input");
      box.id = id;
      box.name = field.name;
      box.maxLength = field.max_length;
      box.required = field.required;
      if (field.name === "email") box.type = "email";
      const error = el("div", "error");
      inputs.set(field.name, { input: box, error });
      form.append(label, box, error);
    }
    const submit = el("button", "", "Start chat");
    submit.type = "submit";
    form.append(submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void startChat(inputs, submit);
    });
    body.append(form);
  }

  /**
   * @param {Map<string, {input: HTMLInputElement, error: HTMLDivElement}>} inputs
   * @param {HTMLButtonElement} submit
   */
  async function startChat(inputs, submit) {
    /** @type {Record<string, string>} */
    const extra = {};
    /** @type {Record<string, unknown>} */
    const payload = { queue, fields: extra };
    for (const [name, { input: box, error }] of inputs) {
      error.textContent = "";
      if (name === "name" || name === "email" || name === "case_number") payload[name] = box.value.trim();
      else extra[name] = box.value.trim();
    }
    submit.disabled = true;
    try {
      const response = await fetch(`${base}/chat/v1/${encodeURIComponent(tenant)}/conversations`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload),
      });
      const answer = await response.json();
      if (!response.ok) {
        const problem = /** @type {ErrorBody} */ (answer);
        const field = (problem.field || "").replace(/^fields\./, "");
        const target = inputs.get(field);
        if (target) target.error.textContent = problem.message.replace(/^[^:]*: /, "");
        else setStatus(problem.message);
        return;
      }
      const started = /** @type {{conversation_id: string, token: string, websocket: string}} */ (answer);
      session = { ...started, last_seq: 0 };
      saveSession();
      showConversation();
      connect();
    } catch {
      setStatus("Could not reach the chat service. Please try again.");
    } finally {
      submit.disabled = false;
    }
  }

  function showConversation() {
    ended = false;
    body.replaceChildren(list);
    compose.hidden = false;
    endButton.textContent = "End chat";
    setStatus("Connecting…");
  }

  function connect() {
    if (!session || (socket && socket.readyState <= WebSocket.OPEN)) return;
    const current = session;
    const ws = new WebSocket(base.replace(/^http/, "ws") + current.websocket);
    socket = ws;
    ws.addEventListener("open", () => {
      reconnectDelay = 1000;
      ws.send(JSON.stringify({ type: "hello", token: current.token, last_seq: current.last_seq }));
    });
    ws.addEventListener("message", (event) => handle(JSON.parse(String(event.data))));
    ws.addEventListener("close", (event) => {
      if (socket === ws) socket = null;
      if (event.code === 4001 || event.code === 4003 || event.code === 4004) {
        setStatus("This chat is no longer available.");
        finish();
        return;
      }
      if (session && !ended) {
        setStatus("Reconnecting…");
        window.setTimeout(connect, reconnectDelay);
        reconnectDelay = Math.min(reconnectDelay * 2, 15000);
      }
    });
  }

  /** @param {any} frame */
  function handle(frame) {
    switch (frame.type) {
      case "welcome":
        input.maxLength = frame.limits.max_message_chars;
        for (const message of /** @type {Message[]} */ (frame.messages)) show(message, null);
        setState(frame.conversation.state, frame.conversation.agent_name);
        break;
      case "message":
        show(/** @type {Message} */ (frame.message), frame.client_id || null);
        break;
      case "state":
        setState(frame.state, frame.agent_name);
        break;
      case "typing":
        typing.textContent = frame.active ? "The agent is typing…" : "";
        window.clearTimeout(typingHide);
        if (frame.active) typingHide = window.setTimeout(() => (typing.textContent = ""), 6000);
        break;
      case "delivered":
        for (const [seq, item] of shown) {
          if (seq <= frame.up_to_seq && item.classList.contains("customer")) meta(item, "Delivered");
        }
        break;
      case "error": {
        const item = frame.client_id ? pending.get(frame.client_id) : undefined;
        if (item) meta(item, `Not sent: ${frame.message}`);
        else setStatus(frame.message);
        break;
      }
    }
  }

  /**
   * @param {string} state
   * @param {string | null} agentName
   */
  function setState(state, agentName) {
    if (state === "connected") setStatus(agentName ? `You are chatting with ${agentName}.` : "An agent has joined.");
    else if (state === "queued") setStatus("Waiting for an agent…");
    else {
      ended = true;
      setStatus("The chat has ended. Thank you!");
      endButton.textContent = "Close";
      finish();
      if (socket) socket.close(1000);
    }
  }

  /**
   * @param {HTMLLIElement} item
   * @param {string} text
   */
  function meta(item, text) {
    let line = item.querySelector(".meta");
    if (!line) {
      line = el("span", "meta");
      item.append(line);
    }
    line.textContent = text;
  }

  /**
   * @param {Message} message
   * @param {string | null} clientId
   */
  function show(message, clientId) {
    if (shown.has(message.seq)) return;
    let item = clientId ? pending.get(clientId) : undefined;
    if (item && clientId) pending.delete(clientId);
    if (!item) {
      item = el("li", message.sender);
      item.append(el("span", "text", message.text));
      list.append(item);
    }
    item.dataset.seq = String(message.seq);
    shown.set(message.seq, item);
    if (message.sender === "customer") meta(item, message.delivered_at ? "Delivered" : "Sent");
    if (session && message.seq > session.last_seq) {
      session.last_seq = message.seq;
      saveSession();
    }
    if (message.sender === "agent") {
      typing.textContent = "";
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "delivered", up_to_seq: message.seq }));
      }
    }
    body.scrollTop = body.scrollHeight;
  }

  compose.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !socket || socket.readyState !== WebSocket.OPEN) return;
    const clientId = Math.random().toString(36).slice(2, 12);
    const item = el("li", "customer");
    item.append(el("span", "text", text));
    meta(item, "Sending…");
    list.append(item);
    pending.set(clientId, item);
    socket.send(JSON.stringify({ type: "message", text, client_id: clientId }));
    input.value = "";
    stopTyping();
    body.scrollTop = body.scrollHeight;
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      compose.requestSubmit();
    }
  });

  input.addEventListener("input", () => {
    const now = Date.now();
    if (socket && socket.readyState === WebSocket.OPEN && now - lastTypingSent > 3000) {
      socket.send(JSON.stringify({ type: "typing", active: true }));
      lastTypingSent = now;
    }
    window.clearTimeout(typingIdle);
    typingIdle = window.setTimeout(stopTyping, 4000);
  });

  function stopTyping() {
    window.clearTimeout(typingIdle);
    if (lastTypingSent && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "typing", active: false }));
    }
    lastTypingSent = 0;
  }

  launcher.addEventListener("click", open);
  endButton.addEventListener("click", close);

  function mount() {
    document.body.append(host);
    session = loadSession();
    if (session) open();
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
