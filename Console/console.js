// Thalo Console: modules, streams, entities with time travel, and the cluster, in one
// page. Routes live in the URL's fragment (#/entities/BankAccount/a1), so the server only
// serves this file, its modules and the stylesheet.

import { APIError, follow, get, onTokenNeeded, request, segment, setToken, token } from "./api.js";
import { h, jsonBlock, time } from "./dom.js";
import { commandFields, payloadText, showProblems } from "./form.js";

const view = document.getElementById("view");
const pageSize = 20;
/** Stops whatever the current page follows live; replaced on every navigation. */
let leave = () => {};

// MARK: Token

const dialog = document.getElementById("token-dialog");
const tokenInput = document.getElementById("token-input");
const tokenReason = document.getElementById("token-reason");

function showTokenState() {
  document.getElementById("token-button").textContent = token() ? "Token ✓" : "Token";
}

/** Asks for the token in a dialog; resolves to true when one was entered. */
function askForToken(reason) {
  tokenReason.textContent = reason ?? "This server requires a bearer token.";
  tokenInput.value = token() ?? "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        const entered = dialog.returnValue === "save" ? tokenInput.value.trim() : "";
        if (dialog.returnValue === "save") setToken(entered);
        if (dialog.returnValue === "forget") setToken(null);
        showTokenState();
        resolve(entered !== "");
      },
      { once: true },
    );
  });
}

onTokenNeeded(askForToken);
document.getElementById("token-button").addEventListener("click", () => askForToken("The token is kept for this browser session only."));
showTokenState();

// MARK: Routing

const routes = [
  [/^#\/modules\/([^/]+)\/([^/]+)$/, (name, version) => modulePage(name, version)],
  [/^#\/modules$/, () => modulesPage()],
  [/^#\/streams$/, () => streamsPage()],
  [/^#\/categories\/([^/?]+)(?:\?position=(\d+))?$/, (category, position) => categoryPage(category, Number(position ?? 1))],
  [/^#\/streams\/([^/?]+)(?:\?position=(\d+))?$/, (stream, position) => streamPage(stream, Number(position ?? 0))],
  [/^#\/entities\/([^/]+)\/(.+)$/, (aggregate, id) => entityPage(aggregate, id)],
  [/^#\/cluster$/, () => clusterPage()],
];

async function route() {
  leave();
  leave = () => {};
  const hash = location.hash || "#/modules";
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", hash.startsWith(link.getAttribute("href")));
  }
  const match = routes.map(([pattern, page]) => [hash.match(pattern), page]).find(([found]) => found);
  view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const content = match ? await match[1](...match[0].slice(1).map((part) => (part === undefined ? undefined : decodeURIComponent(part)))) : notFound(hash);
    view.replaceChildren(content);
  } catch (failure) {
    view.replaceChildren(errorBox(failure));
  }
}

window.addEventListener("hashchange", route);

function notFound(hash) {
  return h("section", {}, h("h1", {}, "Not found"), h("p", {}, `The console has no page ${hash}.`), h("a", { href: "#/modules" }, "Modules"));
}

function errorBox(failure) {
  const message = failure instanceof APIError ? `${failure.message} (${failure.code}, HTTP ${failure.status})` : String(failure.message ?? failure);
  return h("div", { class: "error", role: "alert" }, message);
}

// MARK: Modules

async function modulesPage() {
  const { modules } = await get("/v1/modules");
  const byName = new Map();
  for (const module of modules) byName.set(module.name, [...(byName.get(module.name) ?? []), module]);
  if (byName.size === 0) {
    return h("section", {}, h("h1", {}, "Modules"), h("p", {}, "No module is published yet. Publish one with ", h("code", {}, "thalo publish schema.esdl module.wasm"), "."));
  }
  const cards = [...byName.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, versions]) => {
    const running = versions.find((module) => module.active);
    return h(
      "article",
      { class: "card module", "data-module": name },
      h("h2", {}, name, " ", running ? h("span", { class: "badge running" }, `running ${running.version}`) : h("span", { class: "badge" }, "not running")),
      h("p", { class: "muted" }, "Category ", h("a", { href: `#/categories/${segment(versions[0].category)}` }, versions[0].category)),
      table(
        ["Version", "Published", "Size", ""],
        versions
          .sort((a, b) => compareVersions(b.version, a.version))
          .map((module) => [
            h("a", { href: `#/modules/${segment(name)}/${segment(module.version)}` }, module.version),
            time(module.publishedAt),
            `${(module.size / 1024).toFixed(1)} KiB`,
            module.active ? h("span", { class: "badge running" }, "running") : "",
          ]),
      ),
      entityLookup(name),
    );
  });
  return h("section", {}, h("h1", {}, "Modules"), ...cards);
}

function entityLookup(aggregate) {
  const input = h("input", { type: "text", name: "entity-id", placeholder: "entity id", required: true, "aria-label": `${aggregate} entity id` });
  return h(
    "form",
    {
      class: "inline",
      onsubmit: (event) => {
        event.preventDefault();
        location.hash = `#/entities/${segment(aggregate)}/${segment(input.value.trim())}`;
      },
    },
    input,
    h("button", { type: "submit" }, "Open entity"),
  );
}

function compareVersions(a, b) {
  const parts = (text) => text.split(/[-+]/)[0].split(".").map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let index = 0; index < 3; index++) if (x[index] !== y[index]) return x[index] - y[index];
  return a.localeCompare(b);
}

async function modulePage(name, version) {
  const module = await get(`/v1/modules/${segment(name)}/${segment(version)}`);
  const { schema } = module;
  return h(
    "section",
    {},
    h("p", {}, h("a", { href: "#/modules" }, "Modules"), " / ", name),
    h("h1", {}, `${name} ${version} `, module.active ? h("span", { class: "badge running" }, "running") : h("span", { class: "badge" }, "not running")),
    h("p", { class: "muted" }, "Category ", h("a", { href: `#/categories/${segment(module.category)}` }, module.category), " · published ", time(module.publishedAt), ` · ${module.size} bytes`),
    h("h2", {}, "Commands"),
    table(
      ["Command", "Parameters", "Returns"],
      schema.aggregate.commands.map((command) => [
        h("code", {}, command.name),
        command.parameters.map((parameter) => `${parameter.name}: ${parameter.type}`).join(", ") || "—",
        returnsText(command.returns),
      ]),
    ),
    h("h2", {}, "Events"),
    table(["Event", "Fields"], schema.events.map((event) => [h("code", {}, event.name), event.fields.map((field) => `${field.name}: ${field.type}`).join(", ") || "—"])),
    schema.types.length ? h("h2", {}, "Types") : "",
    schema.types.length ? table(["Type", "Fields"], schema.types.map((type) => [h("code", {}, type.name), type.fields.map((field) => `${field.name}: ${field.type}`).join(", ")])) : "",
    h("h2", {}, "Schema"),
    h("pre", { class: "esdl" }, highlightESDL(module.esdl)),
    entityLookup(name),
  );
}

function returnsText(returns) {
  const elements = returns.elements.map((element) => element.event + (element.isOptional ? "?" : ""));
  if (elements.length === 0) return "—";
  return returns.isTuple ? `(${elements.join(", ")})${returns.tupleIsOptional ? "?" : ""}` : elements[0];
}

/** ESDL source with keywords, names and types marked for the stylesheet. */
function highlightESDL(text) {
  const nodes = [];
  const pattern = /("(?:[^"\\]|\\.)*")|\b(version|aggregate|event|type)\b|\b(String|Int|Long|Float|Double|Bool|Bytes)\b|\b([A-Z][A-Za-z0-9_]*)\b/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    nodes.push(text.slice(last, match.index));
    const kind = match[1] ? "string" : match[2] ? "keyword" : match[3] ? "scalar" : "name";
    nodes.push(h("span", { class: `esdl-${kind}` }, match[0]));
    last = match.index + match[0].length;
  }
  nodes.push(text.slice(last));
  return nodes;
}

// MARK: Streams and categories

async function streamsPage() {
  const { modules } = await get("/v1/modules");
  const categories = [...new Set(modules.map((module) => module.category))].sort();
  const streamInput = h("input", { type: "text", name: "stream", placeholder: "bankAccount-a1", required: true, "aria-label": "stream name" });
  const categoryInput = h("input", { type: "text", name: "category", placeholder: "bankAccount", required: true, "aria-label": "category" });
  return h(
    "section",
    {},
    h("h1", {}, "Streams"),
    h(
      "form",
      { class: "inline", id: "find-stream", onsubmit: (event) => (event.preventDefault(), (location.hash = `#/streams/${segment(streamInput.value.trim())}`)) },
      h("label", {}, "Find a stream ", streamInput),
      h("button", { type: "submit" }, "Open"),
    ),
    h(
      "form",
      { class: "inline", onsubmit: (event) => (event.preventDefault(), (location.hash = `#/categories/${segment(categoryInput.value.trim())}`)) },
      h("label", {}, "Browse a category ", categoryInput),
      h("button", { type: "submit" }, "Open"),
    ),
    h("h2", {}, "Categories of the published aggregates"),
    categories.length
      ? h(
          "ul",
          { class: "categories" },
          categories.flatMap((category) => [
            h("li", {}, h("a", { href: `#/categories/${segment(category)}` }, category), h("span", { class: "muted" }, " events")),
            h("li", {}, h("a", { href: `#/categories/${segment(`${category}:command`)}` }, `${category}:command`), h("span", { class: "muted" }, " submitted commands")),
          ]),
        )
      : h("p", { class: "muted" }, "No module is published yet."),
  );
}

function messageRows(messages, { showStream }) {
  return messages.map((message) => {
    const row = h(
      "tr",
      { class: "message", "data-global-position": message.globalPosition },
      h("td", { class: "number" }, String(message.globalPosition)),
      showStream ? h("td", {}, h("a", { href: `#/streams/${segment(message.streamName)}` }, message.streamName)) : null,
      h("td", { class: "number" }, String(message.position)),
      h("td", {}, h("code", {}, message.type)),
      h("td", {}, time(message.time)),
      h("td", {}, h("details", {}, h("summary", {}, preview(message.data)), jsonBlock(message.data), message.metadata ? h("div", { class: "muted" }, "metadata") : "", message.metadata ? jsonBlock(message.metadata) : "")),
    );
    return row;
  });
}

function preview(data) {
  const text = JSON.stringify(data);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function messageTable(messages, options) {
  const head = ["Global", options.showStream ? "Stream" : null, "Position", "Type", "Time", "Data"].filter(Boolean);
  return h("table", { class: "messages" }, h("thead", {}, h("tr", {}, head.map((title) => h("th", {}, title)))), h("tbody", {}, messageRows(messages, options)));
}

async function categoryPage(category, position) {
  const { messages } = await get(`/v1/categories/${segment(category)}?position=${position}&batchSize=${pageSize}`);
  const messagesTable = messageTable(messages, { showStream: true });
  const body = messagesTable.querySelector("tbody");
  const status = h("span", { class: "muted", id: "live-status" });
  const live = h("input", { type: "checkbox", id: "follow-live" });
  let lastPosition = messages.length ? messages[messages.length - 1].globalPosition : position - 1;
  live.addEventListener("change", () => {
    leave();
    leave = () => {};
    status.textContent = "";
    if (!live.checked) return;
    status.textContent = "connecting…";
    leave = follow(
      category,
      lastPosition + 1,
      (message) => {
        lastPosition = message.globalPosition;
        body.append(...messageRows([message], { showStream: true }));
        status.textContent = `live · last global position ${message.globalPosition}`;
      },
      (state) => (status.textContent = state),
    );
  });
  const next = messages.length === pageSize ? h("a", { class: "button", href: `#/categories/${segment(category)}?position=${lastPosition + 1}` }, "Next page →") : "";
  return h(
    "section",
    {},
    h("p", {}, h("a", { href: "#/streams" }, "Streams"), " / category"),
    h("h1", {}, category),
    h("div", { class: "toolbar" }, h("label", {}, live, " Follow live"), status),
    messages.length || position > 1 ? messagesTable : h("div", {}, messagesTable, h("p", { class: "muted" }, "No messages yet in this category.")),
    h("div", { class: "pager" }, position > 1 ? h("a", { class: "button", href: `#/categories/${segment(category)}` }, "← First page") : "", next),
  );
}

async function streamPage(stream, position) {
  const [{ messages }, { modules }] = await Promise.all([get(`/v1/streams/${segment(stream)}?position=${position}&batchSize=${pageSize}`), get("/v1/modules")]);
  const dash = stream.indexOf("-");
  const category = stream.slice(0, dash);
  const aggregate = modules.find((module) => module.category === category);
  const last = messages.length ? messages[messages.length - 1].position : position - 1;
  return h(
    "section",
    {},
    h("p", {}, h("a", { href: "#/streams" }, "Streams"), " / ", h("a", { href: `#/categories/${segment(category)}` }, category), " / stream"),
    h("h1", {}, stream),
    aggregate ? h("p", {}, h("a", { class: "button", href: `#/entities/${segment(aggregate.name)}/${segment(stream.slice(dash + 1))}` }, `Open as ${aggregate.name} entity`)) : "",
    messages.length ? messageTable(messages, { showStream: false }) : h("p", { class: "muted" }, position > 0 ? "No more messages." : "This stream has no messages."),
    h(
      "div",
      { class: "pager" },
      position > 0 ? h("a", { class: "button", href: `#/streams/${segment(stream)}?position=${Math.max(0, position - pageSize)}` }, "← Previous") : "",
      messages.length === pageSize ? h("a", { class: "button", href: `#/streams/${segment(stream)}?position=${last + 1}` }, "Next page →") : "",
    ),
  );
}

// MARK: Entities

async function entityPage(aggregateName, id) {
  const { modules } = await get(`/v1/modules/${segment(aggregateName)}`);
  const running = modules.find((module) => module.active) ?? modules[modules.length - 1];
  const detail = await get(`/v1/modules/${segment(running.name)}/${segment(running.version)}`);
  const schema = detail.schema;
  const entityPath = `/v1/aggregates/${segment(running.name)}/${segment(id)}`;

  let entity = null;
  try {
    entity = await get(entityPath);
  } catch (failure) {
    if (!(failure instanceof APIError && failure.code === "unknownEntity")) throw failure;
  }
  const events = entity ? [...entity.events] : [];
  const states = new Map();
  if (entity) states.set(entity.version, entity.state);

  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const slider = h("input", { type: "range", id: "time-slider", min: 0, max: 0, value: 0, step: 1, "aria-label": "position in the entity's history" });
  const sliderLabel = h("output", { id: "slider-label", for: "time-slider" });
  const statePanel = h("div", { id: "state" });
  const liveStatus = h("span", { class: "muted", id: "live-status" });
  const streamName = entity?.streamName ?? `${running.category}-${id}`;

  function eventItem(message) {
    return h(
      "li",
      { class: "event", "data-position": message.position, onclick: () => moveTo(message.position) },
      h("div", { class: "event-head" }, h("span", { class: "position" }, `#${message.position}`), " ", h("code", {}, message.type), " ", time(message.time)),
      jsonBlock(message.data, { class: "json data" }),
      message.metadata ? h("details", {}, h("summary", {}, "metadata"), jsonBlock(message.metadata)) : "",
    );
  }

  function renderTimeline() {
    timeline.replaceChildren(...(events.length ? events.map(eventItem) : [h("li", { class: "muted" }, "No events yet: execute a command below to start this entity.")]));
    const version = events.length ? events[events.length - 1].position : 0;
    const atEnd = Number(slider.value) >= Number(slider.max);
    slider.max = version;
    slider.disabled = events.length === 0;
    if (atEnd) slider.value = version;
  }

  let showing = 0;
  async function showState() {
    const position = Number(slider.value);
    const request = ++showing;
    for (const item of timeline.querySelectorAll(".event")) {
      const itemPosition = Number(item.dataset.position);
      item.classList.toggle("future", itemPosition > position);
      item.classList.toggle("current", itemPosition === position);
    }
    if (events.length === 0) {
      sliderLabel.textContent = "no events";
      statePanel.replaceChildren(h("p", { class: "muted" }, "No state: the entity has no events."));
      return;
    }
    const event = events.find((message) => message.position === position);
    sliderLabel.textContent = `after #${position} of ${slider.max}${event ? ` · ${event.type}` : ""}`;
    try {
      if (!states.has(position)) states.set(position, (await get(`${entityPath}?position=${position}`)).state);
      if (request !== showing) return;
      statePanel.replaceChildren(jsonBlock(states.get(position), { id: "state-json" }));
      statePanel.dataset.position = position;
    } catch (failure) {
      if (request === showing) statePanel.replaceChildren(errorBox(failure));
    }
  }

  function moveTo(position) {
    slider.value = position;
    showState();
  }

  slider.addEventListener("input", showState);

  function addEvent(message) {
    if (message.streamName !== streamName || events.some((known) => known.position === message.position)) return;
    events.push(message);
    events.sort((a, b) => a.position - b.position);
    renderTimeline();
    showState();
  }

  async function refresh() {
    try {
      const latest = await get(entityPath);
      states.set(latest.version, latest.state);
      for (const message of latest.events) addEvent(message);
    } catch (failure) {
      if (!(failure instanceof APIError && failure.code === "unknownEntity")) throw failure;
    }
  }

  // Live: the category's events after the last one shown. An entity without events is
  // polled until it has one (where it will begin in the category is not known, and
  // reading the category from its start could be long).
  let stopFollowing = () => {};
  let poll = null;
  let left = false;
  function goLive() {
    if (left) return;
    if (events.length === 0) {
      liveStatus.textContent = "waiting for the first event";
      poll = setTimeout(async () => {
        await refresh().catch(() => {});
        goLive();
      }, 2000);
      return;
    }
    stopFollowing = follow(running.category, events[events.length - 1].globalPosition + 1, addEvent, (state) => (liveStatus.textContent = state));
  }
  leave = () => {
    left = true;
    clearTimeout(poll);
    stopFollowing();
  };
  goLive();

  renderTimeline();
  showState();

  // After a command from the form, show the state it led to, wherever the slider was.
  const form = commandForm(running.name, id, schema, async () => {
    await refresh();
    moveTo(Number(slider.max));
  });
  return h(
    "section",
    { class: "entity" },
    h("p", {}, h("a", { href: "#/modules" }, "Modules"), " / ", h("a", { href: `#/modules/${segment(running.name)}/${segment(running.version)}` }, `${running.name} ${running.version}`), " / entity"),
    h("h1", {}, `${running.name} `, h("span", { class: "entity-id" }, id)),
    h("p", { class: "muted" }, "Stream ", h("a", { href: `#/streams/${segment(streamName)}` }, streamName), " · ", liveStatus),
    h(
      "div",
      { class: "columns" },
      h("div", { class: "column" }, h("h2", {}, "Events"), timeline),
      h(
        "div",
        { class: "column" },
        h("h2", {}, "State"),
        h("div", { class: "slider" }, slider, sliderLabel),
        statePanel,
        h("h2", {}, "Execute a command"),
        form,
      ),
    ),
  );
}

function commandForm(aggregate, id, schema, afterRecorded) {
  const commands = schema.aggregate.commands;
  const select = h("select", { id: "command-select", name: "command", "aria-label": "command" }, commands.map((command) => h("option", { value: command.name }, command.name)));
  const fieldsHolder = h("div");
  const outcome = h("div", { id: "command-outcome", role: "status" });
  const button = h("button", { type: "submit" }, "Execute");
  let fields = null;
  function choose() {
    const command = commands.find((item) => item.name === select.value);
    fields = commandFields(command, schema);
    fieldsHolder.replaceChildren(fields.element);
    outcome.replaceChildren();
  }
  select.addEventListener("change", choose);
  const form = h("form", { id: "command-form", class: "command-form", novalidate: true }, h("label", {}, "Command ", select), fieldsHolder, button, outcome);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { payload, problems } = fields.read();
    const place = (unplaced) => {
      if (unplaced.length) outcome.replaceChildren(h("div", { class: "error", role: "alert" }, unplaced.join("; ")));
    };
    outcome.replaceChildren();
    showProblems(form, problems, place);
    if (problems.length) {
      outcome.replaceChildren(h("div", { class: "error", role: "alert" }, "Fix the marked fields."));
      return;
    }
    button.disabled = true;
    try {
      const result = await request("POST", `/v1/execute/${segment(aggregate)}/${segment(id)}/${segment(select.value)}`, { body: payloadText(payload) });
      const summary =
        result.outcome === "recorded"
          ? `Recorded ${result.events.map((message) => `${message.type} at #${message.position}`).join(", ") || "no events"}`
          : result.outcome === "ignored"
            ? `Ignored: ${result.reason}`
            : "Duplicate: already handled";
      outcome.replaceChildren(h("div", { class: "success" }, summary));
      await afterRecorded();
    } catch (failure) {
      if (failure instanceof APIError && failure.code === "rejected") {
        outcome.replaceChildren(h("div", { class: "rejected", role: "alert" }, `Rejected: ${failure.message}`));
      } else if (failure instanceof APIError && failure.details.length) {
        showProblems(form, failure.details, place);
        if (!outcome.childElementCount) outcome.replaceChildren(h("div", { class: "error", role: "alert" }, failure.message));
      } else {
        outcome.replaceChildren(errorBox(failure));
      }
    } finally {
      button.disabled = false;
    }
  });
  if (commands.length) choose();
  return form;
}

// MARK: Cluster

async function clusterPage() {
  const cluster = await get("/v1/cluster");
  return h(
    "section",
    {},
    h("h1", {}, "Cluster"),
    h("p", { class: "muted" }, `Answered by node ${cluster.node}.`),
    h("h2", {}, "Nodes"),
    table(
      ["Node", "Started", "Last heartbeat", ""],
      cluster.nodes.map((node) => [node.id, time(node.startedAt), time(node.lastHeartbeat), node.live ? h("span", { class: "badge running" }, "live") : h("span", { class: "badge" }, "gone")]),
    ),
    h("h2", {}, "Partitions"),
    cluster.partitions.length
      ? table(
          ["Category", "Consumer", "Partition", "Owner", "Epoch", "Lease expires", "Position", "Lag"],
          cluster.partitions.map((partition) => [
            partition.category,
            partition.consumer,
            `${partition.partition + 1} of ${partition.partitions}`,
            partition.owner ?? h("span", { class: "muted" }, "unowned"),
            String(partition.epoch),
            partition.expiresAt ? time(partition.expiresAt) : "—",
            partition.position ?? "—",
            partition.lag ?? "—",
          ]),
        )
      : h("p", { class: "muted" }, "No partitions yet."),
  );
}

// MARK: Shared

function table(head, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, head.map((title) => h("th", {}, title)))), h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))));
}

async function showStore() {
  try {
    const health = await get("/health");
    document.getElementById("store").textContent = `${health.store} store`;
  } catch {
    document.getElementById("store").textContent = "server unreachable";
  }
}

showStore();
route();
