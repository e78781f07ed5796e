// The pix2pix browser demo: runs the exported TFLite generator with LiteRT.js, on WebGPU when the browser
// offers it and every op of the model runs there, else on WebAssembly (XNNPACK).
//
// Everything the page needs is described by demo.json, written next to it by
// `python -m pix2pix_tf.export ... --web`. window.pix2pix is a small hook for automated tests.

import {Tensor, getWebGpuDevice, loadAndCompile, loadLiteRt} from "@litertjs/core";

const METADATA_URL = "demo.json";
const WASM_DIR = new URL("litert/wasm/", location.href).href;
const UNDO_LIMIT = 50;
const LUMA = [0.2989, 0.587, 0.114]; // what TensorFlow's rgb_to_grayscale uses, so grey inputs match training

const $ = (id) => document.getElementById(id);

const hook = {
  state: "loading", // "loading" | "ready" | "error"
  error: null,
  accelerator: null, // "webgpu" | "wasm"
  translations: 0, // translations of the input canvas finished so far
  lastOutput: null, // Float32Array [H * W * C] of the latest one, in [-1, 1]
  lastMs: null,
  meta: null,
  translate: null, // (H * W * C floats in [-1, 1], paper mode: {noise_k: values}) => Promise<Float32Array>
  inputArray: null, // () => Float32Array: the input canvas as the model sees it
};
window.pix2pix = hook;

let meta;
let model;
let inputCtx;
let outputCtx;
let modelOutCtx;
let brush = "#000000";
let target = null; // {width, height} the output is shown at (the loaded image's size)
const undoStack = [];

// ------------------------------------------------------------------------------------------------------
// Status and errors

function setStatus(text, fraction) {
  $("status-text").textContent = text;
  const bar = $("progress");
  if (fraction === undefined) {
    bar.removeAttribute("value");
  } else {
    bar.value = fraction;
  }
}

function showError(error) {
  const message = error instanceof Error ? error.message : String(error);
  hook.state = "error";
  hook.error = message;
  document.body.dataset.state = "error";
  $("status").hidden = true;
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function showNote(text) {
  const note = $("resize-note");
  note.textContent = text || "";
  note.hidden = !text;
}

// ------------------------------------------------------------------------------------------------------
// Loading

/**
 * LiteRT's wasm writes its whole log to stderr, which Emscripten turns into console.error; each line states
 * its own severity, so route it by that and keep console errors for real errors.
 */
function routeRuntimeLog(line) {
  if (/^(INFO|VERBOSE|DEBUG)\b/.test(line) || /^Created TensorFlow Lite/.test(line)) {
    console.debug(line);
  } else if (/^WARNING\b/.test(line)) {
    console.warn(line);
  } else {
    console.error(line);
  }
}

async function fetchJson(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`Could not fetch ${url}: ${error.message}. Is the web server still running?`);
  }
  if (!response.ok) {
    throw new Error(`${url} is missing (HTTP ${response.status}): serve the folder written by ` +
                    "`python -m pix2pix_tf.export ... --web`.");
  }
  return response.json();
}

/** The model's bytes, with a progress bar: a 50 MB float32 generator takes a while on a phone. */
async function fetchModel(file, expectedBytes) {
  let response;
  try {
    response = await fetch(file);
  } catch (error) {
    throw new Error(`Could not fetch the model ${file}: ${error.message}.`);
  }
  if (!response.ok) {
    throw new Error(`The model file ${file} could not be loaded (HTTP ${response.status}). Export again with ` +
                    "--web, and serve the whole folder it writes.");
  }
  const total = Number(response.headers.get("Content-Length")) || expectedBytes;
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    setStatus(`Loading the model: ${formatBytes(received)} of ${formatBytes(total)}…`, Math.min(received / total, 1));
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  checkModelBytes(file, bytes, expectedBytes);
  return bytes;
}

/** A truncated or foreign file is refused with a sentence before the runtime sees it. */
function checkModelBytes(file, bytes, expectedBytes) {
  const identifier = new TextDecoder().decode(bytes.subarray(4, 8));
  if (bytes.length < 8 || identifier !== "TFL3") {
    throw new Error(`The model file ${file} is not a TFLite model (no TFL3 identifier). Export again with --web.`);
  }
  if (expectedBytes && bytes.length !== expectedBytes) {
    throw new Error(`The model file ${file} has ${bytes.length} bytes, the export wrote ${expectedBytes}: ` +
                    "it is truncated or was replaced. Export again with --web.");
  }
}

function requestedAccelerator() {
  const wanted = new URLSearchParams(location.search).get("accelerator") || "auto";
  if (!["auto", "webgpu", "wasm"].includes(wanted)) {
    throw new Error(`?accelerator=${wanted}: use auto, webgpu or wasm.`);
  }
  return wanted;
}

function whyNoWebGpu() {
  if (!window.isSecureContext) return "WebGPU needs a secure context (https or localhost)";
  if (!navigator.gpu) return "this browser has no WebGPU";
  return "no WebGPU adapter is available";
}

/** Compile for WebGPU when possible and check it with one run; otherwise (or if that fails) for wasm. */
async function compileModel(bytes) {
  const wanted = requestedAccelerator();
  let note = wanted === "wasm" ? "as requested" : "";
  if (wanted !== "wasm" && getWebGpuDevice()) {
    let compiled = null;
    try {
      setStatus("Compiling the model for WebGPU…");
      compiled = await loadAndCompile(bytes, {accelerator: "webgpu"});
      if (compiled.options.accelerator === "webgpu") {
        await runModel(compiled, new Float32Array(inputSize()));
        return {compiled, accelerator: "webgpu", note: ""};
      }
      note = "WebGPU cannot run every op of this model";
    } catch (error) {
      console.warn("WebGPU failed, using wasm:", error);
      note = `WebGPU failed: ${error.message}`;
    }
    compiled?.delete();
  } else if (wanted !== "wasm") {
    note = whyNoWebGpu();
  }
  setStatus("Compiling the model for WebAssembly…");
  let compiled;
  try {
    compiled = await loadAndCompile(bytes, {accelerator: "wasm"});
    await runModel(compiled, new Float32Array(inputSize()));
  } catch (error) {
    throw new Error(`The model file ${meta.model.file} could not be run by LiteRT.js: ${error.message || error}. ` +
                    "Export again with --web.");
  }
  return {compiled, accelerator: "wasm", note};
}

// ------------------------------------------------------------------------------------------------------
// Running the model

function inputSize() {
  return meta.height * meta.width * meta.input_channels;
}

/**
 * One translation. Paper-mode files are run through their noise signature with fresh uniform noise per
 * dropout layer (LiteRT.js repeats the builtin RANDOM_UNIFORM op's draws on every run, so its outputs would
 * not be random); ``noise`` (name -> values) fixes that noise, for tests.
 */
async function runModel(compiled, array, noise = {}) {
  const {signature, input: inputName, output: outputName, noise_inputs: noiseShapes = {}} = meta.model;
  const inputs = {[inputName]: new Tensor(array, [1, meta.height, meta.width, meta.input_channels])};
  for (const [name, shape] of Object.entries(noiseShapes)) {
    const values = noise[name] ? Float32Array.from(noise[name]) : uniformNoise(shape.reduce((a, b) => a * b, 1));
    inputs[name] = new Tensor(values, shape);
  }
  try {
    const outputs = await compiled.run(signature, inputs);
    try {
      return new Float32Array(await outputs[outputName].data()); // a copy: the tensor's memory is freed below
    } finally {
      Object.values(outputs).forEach((tensor) => tensor.delete());
    }
  } finally {
    Object.values(inputs).forEach((tensor) => tensor.delete());
  }
}

function uniformNoise(size) {
  const values = new Float32Array(size);
  for (let i = 0; i < size; i += 1) values[i] = Math.random();
  return values;
}

function canvasToInput() {
  const {data} = inputCtx.getImageData(0, 0, meta.width, meta.height);
  const channels = meta.input_channels;
  const array = new Float32Array(meta.width * meta.height * channels);
  for (let i = 0, p = 0; p < data.length; i += 1, p += 4) {
    if (channels === 3) {
      array[3 * i] = data[p] / 127.5 - 1;
      array[3 * i + 1] = data[p + 1] / 127.5 - 1;
      array[3 * i + 2] = data[p + 2] / 127.5 - 1;
    } else {
      array[i] = (LUMA[0] * data[p] + LUMA[1] * data[p + 1] + LUMA[2] * data[p + 2]) / 127.5 - 1;
    }
  }
  return array;
}

function showOutput(array) {
  const image = modelOutCtx.createImageData(meta.width, meta.height);
  const channels = meta.output_channels;
  const level = (value) => Math.round(Math.min(Math.max((value + 1) * 127.5, 0), 255));
  for (let i = 0, p = 0; p < image.data.length; i += 1, p += 4) {
    const base = channels * i;
    image.data[p] = level(array[base]);
    image.data[p + 1] = level(array[channels === 3 ? base + 1 : base]);
    image.data[p + 2] = level(array[channels === 3 ? base + 2 : base]);
    image.data[p + 3] = 255;
  }
  modelOutCtx.putImageData(image, 0, 0);
  const canvas = outputCtx.canvas;
  if (canvas.width !== target.width || canvas.height !== target.height) {
    canvas.width = target.width;
    canvas.height = target.height;
  }
  outputCtx.imageSmoothingQuality = "high";
  outputCtx.drawImage(modelOutCtx.canvas, 0, 0, target.width, target.height);
}

async function translateCanvas() {
  const start = performance.now();
  const output = await runModel(model, canvasToInput());
  const ms = performance.now() - start;
  showOutput(output);
  hook.lastOutput = output;
  hook.lastMs = ms;
  hook.translations += 1;
  $("stat-time").textContent = `${ms.toFixed(0)} ms`;
}

// One translation at a time; requests made meanwhile collapse into one more run with the latest input.
let pending = false;
let running = false;

async function requestTranslation() {
  pending = true;
  if (running) return;
  running = true;
  try {
    while (pending) {
      pending = false;
      await translateCanvas();
    }
  } catch (error) {
    showError(`Translation failed: ${error.message || error}`);
  } finally {
    running = false;
  }
}

// ------------------------------------------------------------------------------------------------------
// The input canvas: examples, uploads, photos and rectangles

function pushUndo() {
  undoStack.push(inputCtx.getImageData(0, 0, meta.width, meta.height));
  if (undoStack.length > UNDO_LIMIT) undoStack.shift();
}

function background() {
  return meta.palette ? rgb(meta.palette.colors[0]) : "#ffffff";
}

function clearCanvas() {
  pushUndo();
  inputCtx.fillStyle = background();
  inputCtx.fillRect(0, 0, meta.width, meta.height);
  setTarget(meta.width, meta.height);
  requestTranslation();
}

function setTarget(width, height) {
  target = {width, height};
  if (width === meta.width && height === meta.height) {
    showNote("");
  } else {
    showNote(`This image is ${width}x${height} pixels (width x height): it was resized to the model's ` +
             `${meta.width}x${meta.height} for the translation, and the output back to ${width}x${height}.`);
  }
}

function loadImage(source, width, height) {
  pushUndo();
  inputCtx.imageSmoothingQuality = "high";
  inputCtx.drawImage(source, 0, 0, meta.width, meta.height);
  setTarget(width, height);
  requestTranslation();
}

async function loadFile(file) {
  if (!file) return;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (error) {
    showNote(`${file.name} could not be read as an image.`);
    return;
  }
  loadImage(bitmap, bitmap.width, bitmap.height);
  bitmap.close();
}

function loadExample(url) {
  const image = new Image();
  image.onload = () => loadImage(image, image.naturalWidth, image.naturalHeight);
  image.onerror = () => showNote(`${url} could not be loaded.`);
  image.src = url;
}

function canvasPoint(event) {
  const box = inputCtx.canvas.getBoundingClientRect();
  return {
    x: Math.min(Math.max((event.clientX - box.left) * meta.width / box.width, 0), meta.width),
    y: Math.min(Math.max((event.clientY - box.top) * meta.height / box.height, 0), meta.height),
  };
}

/** Whole pixels only: an anti-aliased edge would invent colours that are not in the palette. */
function fillRectBetween(a, b) {
  const x0 = Math.floor(Math.min(a.x, b.x));
  const y0 = Math.floor(Math.min(a.y, b.y));
  const x1 = Math.ceil(Math.max(a.x, b.x));
  const y1 = Math.ceil(Math.max(a.y, b.y));
  if (x1 - x0 < 1 || y1 - y0 < 1) return false;
  inputCtx.fillStyle = brush;
  inputCtx.fillRect(x0, y0, x1 - x0, y1 - y0);
  return true;
}

function enableRectangles(canvas) {
  let start = null;
  let before = null;
  canvas.addEventListener("pointerdown", (event) => {
    if (hook.state !== "ready") return;
    canvas.setPointerCapture(event.pointerId);
    start = canvasPoint(event);
    before = inputCtx.getImageData(0, 0, meta.width, meta.height);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!start) return;
    inputCtx.putImageData(before, 0, 0);
    fillRectBetween(start, canvasPoint(event));
  });
  canvas.addEventListener("pointerup", (event) => {
    if (!start) return;
    inputCtx.putImageData(before, 0, 0);
    if (fillRectBetween(start, canvasPoint(event))) {
      undoStack.push(before);
      if (undoStack.length > UNDO_LIMIT) undoStack.shift();
      requestTranslation();
    }
    start = null;
  });
  canvas.addEventListener("pointercancel", () => {
    if (start) inputCtx.putImageData(before, 0, 0);
    start = null;
  });
}

function undo() {
  const previous = undoStack.pop();
  if (!previous) return;
  inputCtx.putImageData(previous, 0, 0);
  requestTranslation();
}

// ------------------------------------------------------------------------------------------------------
// Building the page from demo.json

function rgb(color) {
  return `rgb(${color[0]}, ${color[1]}, ${color[2]})`;
}

function buildBrushes() {
  const box = $("brushes");
  if (!meta.palette) {
    const label = document.createElement("label");
    label.textContent = "Colour ";
    const picker = document.createElement("input");
    picker.type = "color";
    picker.id = "colour";
    picker.value = brush;
    picker.addEventListener("input", () => { brush = picker.value; });
    label.append(picker);
    box.append(label);
    return;
  }
  const buttons = meta.palette.names.map((name, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "brush";
    button.dataset.name = name;
    button.setAttribute("aria-pressed", "false");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = rgb(meta.palette.colors[index]);
    button.append(swatch, name);
    button.addEventListener("click", () => {
      brush = rgb(meta.palette.colors[index]);
      buttons.forEach((other) => other.setAttribute("aria-pressed", String(other === button)));
    });
    return button;
  });
  box.append(...buttons);
  buttons[Math.min(1, buttons.length - 1)].click(); // the first class after the background
}

function buildExamples() {
  const box = $("examples");
  for (const url of meta.examples) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "example";
    button.title = `Example ${url}`;
    const image = document.createElement("img");
    image.src = url;
    image.alt = `example input ${url}`;
    button.append(image);
    button.addEventListener("click", () => loadExample(url));
    box.append(button);
  }
}

function describe(accelerator, note) {
  const name = accelerator === "webgpu" ? "WebGPU (GPU)" : "WebAssembly (CPU, XNNPACK)";
  return note ? `${name}: ${note}` : name;
}

function fillStats(accelerator, note) {
  const channels = (n) => (n === 3 ? "RGB" : "grey");
  $("stat-accelerator").textContent = describe(accelerator, note);
  $("stat-model").textContent = `${meta.model.variant_label}, ${formatBytes(meta.model.size_bytes)}`;
  $("stat-input").textContent = `${meta.width}x${meta.height} ${channels(meta.input_channels)} -> ` +
    `${channels(meta.output_channels)}, ${meta.direction}, ${meta.inference_mode} inference`;
  $("model-line").textContent = `${meta.title}: the generator runs on this device with LiteRT.js; ` +
    "no image leaves it.";
}

function setUpCanvases() {
  const input = $("input-canvas");
  input.width = meta.width;
  input.height = meta.height;
  inputCtx = input.getContext("2d", {willReadFrequently: true});
  const output = $("output-canvas");
  output.width = meta.width;
  output.height = meta.height;
  outputCtx = output.getContext("2d");
  const scratch = document.createElement("canvas");
  scratch.width = meta.width;
  scratch.height = meta.height;
  modelOutCtx = scratch.getContext("2d");
  inputCtx.fillStyle = background();
  inputCtx.fillRect(0, 0, meta.width, meta.height);
  setTarget(meta.width, meta.height);
  enableRectangles(input);
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function exposeHook(accelerator) {
  hook.meta = meta;
  hook.accelerator = accelerator;
  hook.inputArray = canvasToInput;
  hook.translate = async (values, noise) => {
    if (values.length !== inputSize()) {
      throw new Error(`translate: expected ${inputSize()} values (${meta.height}x${meta.width}x` +
                      `${meta.input_channels}), got ${values.length}`);
    }
    return runModel(model, Float32Array.from(values), noise);
  };
}

async function main() {
  setStatus("Loading the model description…");
  meta = await fetchJson(METADATA_URL);
  setStatus("Loading the LiteRT.js runtime and the model…");
  window.Module = {printErr: routeRuntimeLog}; // read by the runtime's Emscripten loader, then removed
  const [bytes] = await Promise.all([
    fetchModel(meta.model.file, meta.model.size_bytes),
    loadLiteRt(WASM_DIR).catch((error) => {
      throw new Error(`The LiteRT.js runtime could not be loaded from ${WASM_DIR}: ${error.message || error}`);
    }),
  ]);
  const {compiled, accelerator, note} = await compileModel(bytes);
  model = compiled;
  setUpCanvases();
  buildBrushes();
  buildExamples();
  fillStats(accelerator, note);
  $("undo").addEventListener("click", undo);
  $("clear").addEventListener("click", clearCanvas);
  $("upload").addEventListener("change", (event) => loadFile(event.target.files[0]));
  $("camera").addEventListener("change", (event) => loadFile(event.target.files[0]));
  exposeHook(accelerator);
  $("status").hidden = true;
  $("demo").hidden = false;
  if (meta.examples.length) {
    loadExample(meta.examples[0]);
  } else {
    requestTranslation();
  }
  hook.state = "ready";
  document.body.dataset.state = "ready";
}

if (location.protocol !== "file:") {
  main().catch(showError);
}
