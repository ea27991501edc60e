// Custom messages (greetings): recorded in the browser with MediaRecorder, uploaded, then listed,
// played, renamed and deleted. The server checks the type from the audio's first bytes and the size;
// its refusals are shown as they come, naming the field.

import { ApiError, api } from "./api.js";
import { busyWhile, h } from "./dom.js";
import { formatDuration } from "./state.js";

export const MAX_BYTES = 2 * 1024 * 1024;
export const MAX_SECONDS = 60;
export const NAME_MAX = 80;

/**
 * @typedef {Object} Greeting
 * @property {string} id
 * @property {string} name
 * @property {string} content_type
 * @property {number} bytes
 * @property {number|null} duration_seconds
 * @property {number} created_at
 * @property {string} audio_url
 */

/**
 * What is wrong with a greeting's name, or "" (pure; exported for tests).
 * @param {string} name
 */
export function nameProblem(name) {
  const trimmed = name.trim();
  if (!trimmed) return "Give the message a name.";
  if (trimmed.length > NAME_MAX) return `The name may be at most ${NAME_MAX} characters.`;
  return "";
}

/**
 * A recorder type this browser supports (Chromium: WebM/Opus), else "".
 * @returns {string}
 */
export function recordingType() {
  if (typeof MediaRecorder === "undefined") return "";
  for (const type of ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/ogg"]) {
    if (MediaRecorder.isTypeSupported(type)) return type;
  }
  return "";
}

/** @param {number} bytes */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * How long a message plays, as m:ss, a short one as 0:01 ("" when unknown; pure, exported for tests).
 * @param {number|null|undefined} seconds
 */
export function playLength(seconds) {
  if (seconds == null || !(seconds > 0)) return "";
  return formatDuration(Math.max(1, Math.round(seconds)));
}

export class Greetings {
  /** @param {HTMLElement} root  the greetings panel */
  constructor(root) {
    this.root = root;
    this.list = /** @type {HTMLUListElement} */ (root.querySelector("#greeting-list"));
    this.error = /** @type {HTMLElement} */ (root.querySelector("#greeting-error"));
    this.recordButton = /** @type {HTMLButtonElement} */ (root.querySelector("#greeting-record"));
    this.recordState = /** @type {HTMLElement} */ (root.querySelector("#greeting-record-state"));
    this.draft = /** @type {HTMLFormElement} */ (root.querySelector("#greeting-draft"));
    this.nameInput = /** @type {HTMLInputElement} */ (root.querySelector("#greeting-name"));
    /** @type {MediaRecorder|null} */
    this.recorder = null;
    /** @type {Blob|null} */
    this.recording = null;
    /** how long the recording plays, in seconds (measured while recording) */
    this.recordedSeconds = 0;
    /** @type {ReturnType<typeof setInterval>|null} */
    this.ticker = null;
    this.loaded = false;
    this.recordButton.addEventListener("click", () => void (this.recorder ? this.stop() : this.start()));
    this.draft.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.save();
    });
    root.querySelector("#greeting-discard")?.addEventListener("click", () => this.discard());
  }

  /** @param {string} message */
  fail(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
  }

  async load() {
    try {
      /** @type {{greetings: Greeting[]}} */
      const body = await api.greetings();
      this.loaded = true;
      this.render(body.greetings);
    } catch (error) {
      this.fail(`Could not read your messages: ${error instanceof Error ? error.message : error}`);
    }
  }

  /** @param {Greeting[]} greetings */
  render(greetings) {
    const items = greetings.map((g) => this.item(g));
    if (!items.length) items.push(h("li", { class: "muted empty", text: "No recorded messages yet." }));
    this.list.replaceChildren(...items);
  }

  /** @param {Greeting} greeting */
  item(greeting) {
    const nameId = `greeting-name-${greeting.id}`;
    const name = h("span", { class: "greeting-name", text: greeting.name });
    const duration = playLength(greeting.duration_seconds);
    const length = duration ? h("span", { class: "greeting-duration", title: "How long it plays", text: duration }) : null;
    const meta = h("span", { class: "muted" }, length, length ? " · " : null, `${formatBytes(greeting.bytes)} · ${new Date(greeting.created_at * 1000).toLocaleDateString()}`);
    const play = h("button", { type: "button", "data-action": "play", "aria-label": `Play ${greeting.name}` }, "Play");
    const rename = h("button", { type: "button", "data-action": "rename", "aria-label": `Rename ${greeting.name}` }, "Rename");
    const remove = h("button", { type: "button", class: "danger-text", "data-action": "delete", "aria-label": `Delete ${greeting.name}` }, "Delete");
    const li = h("li", { class: "greeting", "data-greeting-id": greeting.id }, h("div", { class: "greeting-line" }, name, meta), h("div", { class: "actions" }, play, rename, remove));
    play.addEventListener("click", () => {
      let audio = /** @type {HTMLAudioElement|null} */ (li.querySelector("audio"));
      if (!audio) {
        audio = h("audio", { controls: true, preload: "auto", "aria-label": greeting.name });
        audio.src = greeting.audio_url;
        li.append(audio);
      }
      void audio.play().catch(() => {});
    });
    rename.addEventListener("click", () => {
      const input = h("input", { id: nameId, name: "name", value: greeting.name, maxlength: NAME_MAX, required: true });
      const save = h("button", { type: "submit", class: "primary" }, "Save");
      const cancel = h("button", { type: "button" }, "Cancel");
      const form = h("form", { class: "rename" }, h("label", { for: nameId, class: "sr-only" }, "New name"), input, save, cancel);
      cancel.addEventListener("click", () => void this.load());
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const problem = nameProblem(input.value);
        if (problem) return this.fail(problem);
        void busyWhile(
          save,
          async () => {
            await api.renameGreeting(greeting.id, input.value.trim());
            this.fail("");
            await this.load();
          },
          (message) => this.fail(message),
        );
      });
      li.querySelector(".greeting-line")?.replaceWith(form);
      input.focus();
      input.select();
    });
    remove.addEventListener("click", () => {
      if (remove.dataset.confirm !== "1") {
        remove.dataset.confirm = "1";
        remove.textContent = "Confirm delete";
        return;
      }
      void busyWhile(
        remove,
        async () => {
          await api.deleteGreeting(greeting.id);
          await this.load();
        },
        (message) => this.fail(message),
      );
    });
    return li;
  }

  async start() {
    this.fail("");
    const type = recordingType();
    if (!type || !navigator.mediaDevices?.getUserMedia) {
      this.fail("This browser cannot record audio.");
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      this.fail(`No microphone: ${error instanceof Error ? error.message : error}. Allow Callbridge to use the microphone.`);
      return;
    }
    /** @type {Blob[]} */
    const chunks = [];
    const recorder = new MediaRecorder(stream, { mimeType: type });
    recorder.addEventListener("dataavailable", (event) => {
      if (event.data.size) chunks.push(event.data);
    });
    recorder.addEventListener("stop", () => {
      for (const track of stream.getTracks()) track.stop();
      this.recording = new Blob(chunks, { type: type.split(";")[0] });
      this.recordedSeconds = (Date.now() - started) / 1000;
      this.recorder = null;
      if (this.ticker) clearInterval(this.ticker);
      this.recordButton.textContent = "Record";
      this.recordButton.setAttribute("aria-pressed", "false");
      this.recordState.textContent = `Recorded ${playLength(this.recordedSeconds)} (${formatBytes(this.recording.size)})`;
      if (this.recording.size > MAX_BYTES) {
        this.fail(`The recording is ${formatBytes(this.recording.size)}; messages may be at most ${formatBytes(MAX_BYTES)}. Record a shorter one.`);
        this.recording = null;
        return;
      }
      this.draft.hidden = false;
      this.nameInput.value = this.nameInput.value || `Greeting ${new Date().toLocaleDateString()}`;
      this.nameInput.focus();
    });
    this.recorder = recorder;
    recorder.start(250);
    const started = Date.now();
    this.recordButton.textContent = "Stop";
    this.recordButton.setAttribute("aria-pressed", "true");
    this.ticker = setInterval(() => {
      const seconds = Math.floor((Date.now() - started) / 1000);
      this.recordState.textContent = `Recording… ${seconds} s`;
      if (seconds >= MAX_SECONDS) this.stop();
    }, 250);
    this.recordState.textContent = "Recording… 0 s";
  }

  stop() {
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
  }

  discard() {
    this.recording = null;
    this.recordedSeconds = 0;
    this.draft.hidden = true;
    this.nameInput.value = "";
    this.recordState.textContent = "";
  }

  async save() {
    const problem = nameProblem(this.nameInput.value);
    if (problem) return this.fail(problem);
    if (!this.recording) return this.fail("Record a message first.");
    const button = /** @type {HTMLButtonElement} */ (this.draft.querySelector("button[type=submit]"));
    const extension = this.recording.type.includes("ogg") ? "ogg" : "webm";
    await busyWhile(
      button,
      async () => {
        try {
          await api.addGreeting(this.nameInput.value.trim(), /** @type {Blob} */ (this.recording), `greeting.${extension}`, this.recordedSeconds);
        } catch (error) {
          if (error instanceof ApiError && error.status === 413) throw new Error(`Too large: ${error.message}`);
          if (error instanceof ApiError && error.status === 415) throw new Error(`Not a supported recording: ${error.message}`);
          throw error;
        }
        this.fail("");
        this.discard();
        await this.load();
      },
      (message) => this.fail(message),
    );
  }
}
