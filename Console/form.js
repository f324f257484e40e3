// Command forms generated from a module's schema (the JSON form of its ESDL): one typed
// control per parameter, custom types as nested fieldsets, and the payload built back
// from the controls with integers kept exactly (a Long does not fit a JavaScript number).

import { h } from "./dom.js";

/** A type as ESDL writes it ("[String?]?", "Address", "Long"), parsed. */
export function parseType(text) {
  if (text.endsWith("?")) return { kind: "optional", inner: parseType(text.slice(0, -1)) };
  if (text.startsWith("[") && text.endsWith("]")) return { kind: "array", inner: parseType(text.slice(1, -1)) };
  if (["String", "Int", "Long", "Float", "Double", "Bool", "Bytes"].includes(text)) return { kind: "scalar", name: text };
  return { kind: "custom", name: text };
}

/** An integer written as digits, sent as a JSON number without passing through a double. */
class Digits {
  constructor(text) {
    this.text = text;
  }
}

/** JSON text of a payload whose integers may be Digits. */
export function payloadText(value) {
  if (value instanceof Digits) return value.text;
  if (Array.isArray(value)) return `[${value.map(payloadText).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}:${payloadText(item)}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The form of one command: returns { element, read } where read() gives
 * { payload, problems } — problems are [{ path, message }] for values that are not even
 * of the right shape (a number field with letters, an array that is not JSON); the
 * server checks everything else and its details land next to the same fields.
 */
export function commandFields(command, schema) {
  const types = new Map(schema.types.map((type) => [type.name, type]));
  const readers = [];
  const element = h("div", { class: "fields" });
  for (const parameter of command.parameters) {
    const field = fieldControl(parameter.name, parameter.name, parseType(parameter.type), parameter.type, types);
    element.append(field.element);
    readers.push([parameter.name, field.read]);
  }
  if (command.parameters.length === 0) element.append(h("p", { class: "muted" }, "This command takes no parameters."));
  return {
    element,
    read() {
      const payload = {};
      const problems = [];
      for (const [name, read] of readers) {
        const result = read(problems);
        if (result !== undefined) payload[name] = result;
      }
      return { payload, problems };
    },
  };
}

function fieldControl(label, path, type, typeText, types) {
  const optional = type.kind === "optional";
  const base = optional ? type.inner : type;
  const hint = h("span", { class: "type" }, typeText);
  const error = h("div", { class: "field-error", "data-error-for": path });
  if (base.kind === "custom" && types.has(base.name)) {
    const definition = types.get(base.name);
    const nested = definition.fields.map((item) => [item.name, fieldControl(item.name, `${path}.${item.name}`, parseType(item.type), item.type, types)]);
    const include = optional ? h("input", { type: "checkbox", "data-include": path, checked: false }) : null;
    const body = h("div", { class: "nested" }, ...nested.map(([, field]) => field.element));
    if (include) {
      body.hidden = true;
      include.addEventListener("change", () => (body.hidden = !include.checked));
    }
    const element = h(
      "fieldset",
      { class: "field", "data-path": path },
      h("legend", {}, label, " ", hint, include ? h("label", { class: "include" }, include, " include") : ""),
      body,
      error,
    );
    return {
      element,
      read(problems) {
        if (include && !include.checked) return undefined;
        const value = {};
        for (const [name, field] of nested) {
          const item = field.read(problems);
          if (item !== undefined) value[name] = item;
        }
        return value;
      },
    };
  }
  let control;
  let read;
  const id = `field-${path.replace(/[^A-Za-z0-9_]/g, "-")}`;
  if (base.kind === "scalar" && base.name === "Bool") {
    if (optional) {
      control = h("select", { id, name: path }, h("option", { value: "" }, "(absent)"), h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
      read = () => (control.value === "" ? undefined : control.value === "true");
    } else {
      control = h("input", { id, name: path, type: "checkbox" });
      read = () => control.checked;
    }
  } else if (base.kind === "scalar" && ["Int", "Long"].includes(base.name)) {
    control = h("input", { id, name: path, type: "text", inputmode: "numeric", placeholder: optional ? "(absent)" : "0", autocomplete: "off" });
    read = (problems) => {
      const text = control.value.trim();
      if (text === "") return optional ? undefined : reportMissing(problems, path);
      if (!/^-?\d+$/.test(text)) return report(problems, path, `expected a whole number, found "${text}"`);
      return new Digits(text.replace(/^(-?)0+(?=\d)/, "$1"));
    };
  } else if (base.kind === "scalar" && ["Float", "Double"].includes(base.name)) {
    control = h("input", { id, name: path, type: "text", inputmode: "decimal", placeholder: optional ? "(absent)" : "0.0", autocomplete: "off" });
    read = (problems) => {
      const text = control.value.trim();
      if (text === "") return optional ? undefined : reportMissing(problems, path);
      const number = Number(text);
      if (!Number.isFinite(number)) return report(problems, path, `expected a number, found "${text}"`);
      return number;
    };
  } else if (base.kind === "scalar") {
    control = h("input", { id, name: path, type: "text", placeholder: base.name === "Bytes" ? "base64" : optional ? "(absent)" : "", autocomplete: "off" });
    read = () => (optional && control.value === "" ? undefined : control.value);
  } else {
    // Arrays and anything deeper: JSON, checked by the server against the type.
    control = h("textarea", { id, name: path, rows: 2, placeholder: base.kind === "array" ? "[ … ] as JSON" : "JSON" });
    read = (problems) => {
      const text = control.value.trim();
      if (text === "") return optional ? undefined : base.kind === "array" ? [] : reportMissing(problems, path);
      try {
        return JSON.parse(text);
      } catch (failure) {
        return report(problems, path, `not valid JSON: ${failure.message}`);
      }
    };
  }
  const element = h("div", { class: "field", "data-path": path }, h("label", { for: id }, label, " ", hint), control, error);
  return { element, read };
}

function report(problems, path, message) {
  problems.push({ path, message });
  return undefined;
}

function reportMissing(problems, path) {
  return report(problems, path, "required");
}

/**
 * Shows problems next to their fields: each goes to the field whose path is the longest
 * prefix of the problem's path (`items[2].price` lands on `items` when there is no
 * deeper field); the rest go to `fallback`.
 */
export function showProblems(form, problems, fallback) {
  for (const element of form.querySelectorAll(".field-error")) element.textContent = "";
  for (const element of form.querySelectorAll(".field.invalid")) element.classList.remove("invalid");
  const unplaced = [];
  for (const problem of problems) {
    let path = problem.path ?? "";
    let target = null;
    while (path && !target) {
      target = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
      if (!target) path = path.replace(/(\.[^.[\]]*|\[\d+\])$|^[^.[\]]*$/, "");
    }
    if (target) {
      target.textContent = target.textContent ? `${target.textContent}; ${problem.message}` : problem.message;
      target.closest(".field")?.classList.add("invalid");
    } else {
      unplaced.push(problem.message);
    }
  }
  fallback(unplaced);
}
