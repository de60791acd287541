// churn ui: the live parts of the pages, no framework. An execution page whose execution runs
// follows its state over server-sent events and recolours the graph, and reloads once the run
// has ended, so what is shown last is the server's full page; a step page whose job runs
// follows its log.
"use strict";

function statusClass(status) {
  return "status-" + status.toLowerCase().replace(/ /g, "-");
}

function recolour(element, status) {
  for (const name of Array.from(element.classList)) {
    if (name.startsWith("status-")) element.classList.remove(name);
  }
  element.classList.add(statusClass(status));
}

function followExecution(id) {
  const events = new EventSource("/executions/" + encodeURIComponent(id) + "/events");
  events.addEventListener("state", (message) => {
    const state = JSON.parse(message.data);
    document.querySelectorAll("svg.graph g.node").forEach((node) => {
      const status = state.steps[node.dataset.step] || "Not run";
      recolour(node, status);
      const label = node.querySelector("text.step-status");
      if (label) label.textContent = node.dataset.type + " \u00b7 " + status;
    });
    const badge = document.querySelector("#execution-status .badge");
    if (badge) {
      badge.textContent = state.status;
      recolour(badge, state.status);
    }
    document.body.dataset.status = state.status;
  });
  events.addEventListener("end", () => {
    events.close();
    window.location.reload();
  });
}

// A followed log stays as it was read when the step ends (no reload: the reader may be in
// the middle of it); the step's status badge shows how it ended.
function followLog(pre) {
  const events = new EventSource(pre.dataset.follow);
  events.addEventListener("log", (message) => {
    const chunk = JSON.parse(message.data);
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(chunk.text));
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  });
  events.addEventListener("status", (message) => {
    const badge = document.querySelector("#step-status .badge");
    if (badge) {
      badge.textContent = JSON.parse(message.data).status;
      recolour(badge, badge.textContent);
    }
  });
  events.addEventListener("end", () => events.close());
}

document.addEventListener("DOMContentLoaded", () => {
  const body = document.body;
  if (body.dataset.execution && body.dataset.status === "Executing") {
    if (document.querySelector("svg.graph")) followExecution(body.dataset.execution);
  }
  document.querySelectorAll("pre[data-follow]").forEach(followLog);
});
