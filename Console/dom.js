// Building DOM nodes without HTML strings, so that event data is always shown as text.

/** An element with attributes (on… names become listeners) and children (strings become text). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "checked" || name === "value" || name === "hidden") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** JSON shown indented, as text. */
export function jsonBlock(value, attributes = {}) {
  return h("pre", { class: "json", ...attributes }, JSON.stringify(value, null, 2));
}

/** A time as the browser's locale writes it, with the ISO text on hover. */
export function time(iso) {
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso }, Number.isNaN(date.getTime()) ? iso : date.toLocaleString());
}
