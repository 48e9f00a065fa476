// The host side of an MCP Apps view, as a chat client embeds one (apps.test.mjs serves this file
// to its host page). The view runs in a sandboxed iframe on another origin and speaks JSON-RPC
// over postMessage: it asks ui/initialize, the host answers with its info, capabilities and
// context; after ui/notifications/initialized the host pushes the tool's input and result; a
// tools/call the view asks for is forwarded to the MCP server through the host's backend
// (POST /proxy), which holds the MCP session. Only messages from the view's own window are
// taken. Every message either way is kept in window.appTrace for the test to read.
'use strict';

(async function host() {
  const frame = document.getElementById('app');
  const status = document.getElementById('host-status');
  const trace = [];
  window.appTrace = trace;
  const session = await (await fetch('/session')).json();

  function toView(message) {
    const m = { jsonrpc: '2.0', ...message };
    trace.push({ dir: 'to-view', m });
    // A sandboxed frame without allow-same-origin has an opaque origin: '*' is the only target.
    frame.contentWindow.postMessage(m, '*');
  }

  async function forward(method, params) {
    const res = await fetch('/proxy', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ method, params }) });
    return res.json(); // { result } or { error }
  }

  async function onRequest(m) {
    if (m.method === 'ui/initialize') {
      toView({ id: m.id, result: { protocolVersion: m.params.protocolVersion,
        hostInfo: { name: 'mcpd browser test host', version: '1.0.0' },
        hostCapabilities: { serverTools: {} },
        hostContext: { theme: 'light', displayMode: 'inline',
          styles: { variables: { '--color-background-secondary': '#e8eefc' } } } } });
    } else if (m.method === 'tools/call') {
      toView({ id: m.id, ...(await forward('tools/call', m.params)) });
    } else {
      toView({ id: m.id, error: { code: -32601, message: 'Method not found' } });
    }
  }

  function onNotification(m) {
    if (m.method === 'ui/notifications/initialized') {
      status.textContent = 'view initialized';
      toView({ method: 'ui/notifications/tool-input', params: { arguments: session.toolInput } });
      toView({ method: 'ui/notifications/tool-result', params: session.toolResult });
    } else if (m.method === 'ui/notifications/size-changed' && Number.isFinite(m.params?.height)) {
      frame.style.height = `${Math.min(Math.max(m.params.height, 100), 2000)}px`;
    }
  }

  window.addEventListener('message', (event) => {
    const m = event.data;
    if (event.source !== frame.contentWindow || !m || typeof m !== 'object' || m.jsonrpc !== '2.0') return;
    trace.push({ dir: 'from-view', m });
    if (m.method !== undefined && m.id !== undefined) onRequest(m);
    else if (m.method !== undefined) onNotification(m);
  });

  frame.src = session.viewUrl;
})();
