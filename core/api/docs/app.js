// Renders the server's OpenAPI document: security schemes, then the operations grouped by tag
// (method, path, summary, parameters, body, responses), then the schemas. Everything comes from
// this server: the document is inlined in the page, or fetched from ./openapi.json.
(function () {
  'use strict';

  const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'options', 'head', 'trace'];

  // Builds an element; strings become text nodes, never markup.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function refName(ref) {
    return typeof ref === 'string' ? ref.split('/').pop() : '';
  }

  // A short description of a schema's type, with links to named schemas.
  function typeOf(schema) {
    if (!schema || typeof schema !== 'object') return 'any';
    if (schema.$ref) {
      const name = refName(schema.$ref);
      return el('a', { href: '#schema-' + name, class: 'ref' }, name);
    }
    if (schema.oneOf || schema.anyOf) {
      const parts = (schema.oneOf || schema.anyOf).map(typeOf);
      return el('span', {}, parts.flatMap((p, i) => (i ? [' | ', p] : [p])));
    }
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
    const shown = types.map((t) => (t === 'array' ? el('span', {}, 'array of ', typeOf(schema.items)) : t));
    if (schema.enum) shown.push(el('span', { class: 'enum' }, ' (' + schema.enum.join(', ') + ')'));
    if (schema.format) shown.push(el('span', { class: 'format' }, ' ' + schema.format));
    if (!shown.length) return 'any';
    return el('span', {}, shown.flatMap((p, i) => (i && typeof p === 'string' && typeof shown[i - 1] === 'string' ? [' | ', p] : [p])));
  }

  function propertiesTable(schema) {
    const props = (schema && schema.properties) || {};
    const names = Object.keys(props);
    if (!names.length) return null;
    const required = new Set(schema.required || []);
    return el(
      'table',
      { class: 'props' },
      el('thead', {}, el('tr', {}, el('th', {}, 'field'), el('th', {}, 'type'), el('th', {}, 'description'))),
      el(
        'tbody',
        {},
        names.map((name) =>
          el(
            'tr',
            {},
            el('td', {}, el('code', {}, name), required.has(name) ? el('span', { class: 'req' }, ' required') : null),
            el('td', {}, typeOf(props[name])),
            el('td', {}, props[name].description || (props[name].default !== undefined ? 'default ' + JSON.stringify(props[name].default) : '')),
          ),
        ),
      ),
    );
  }

  function describeScheme(scheme) {
    const bits = [scheme.type];
    if (scheme.scheme) bits.push('scheme ' + scheme.scheme);
    if (scheme.bearerFormat) bits.push('format ' + scheme.bearerFormat);
    if (scheme.in) bits.push('in ' + scheme.in + (scheme.name ? ' "' + scheme.name + '"' : ''));
    if (scheme.openIdConnectUrl) bits.push('OpenID Connect ' + scheme.openIdConnectUrl);
    if (scheme.flows) bits.push('flows: ' + Object.keys(scheme.flows).join(', '));
    return bits.join(' · ');
  }

  function requirementText(security) {
    if (!Array.isArray(security)) return null;
    if (!security.length) return 'none';
    return security
      .map((req) => {
        const names = Object.keys(req);
        if (!names.length) return 'none (optional)';
        return names.map((n) => (req[n] && req[n].length ? n + ' [' + req[n].join(', ') + ']' : n)).join(' + ');
      })
      .join(' or ');
  }

  function renderSecurity(doc) {
    const schemes = (doc.components && doc.components.securitySchemes) || {};
    const names = Object.keys(schemes);
    const section = el('section', { class: 'security', id: 'security' }, el('h2', {}, 'Authentication'));
    if (!names.length) {
      section.append(el('p', {}, 'No security schemes: this server runs without authentication.'));
      return section;
    }
    section.append(
      el(
        'ul',
        { class: 'schemes' },
        names.map((name) =>
          el(
            'li',
            { class: 'scheme', 'data-scheme': name },
            el('strong', { class: 'scheme-name' }, name),
            ' — ',
            describeScheme(schemes[name]),
            schemes[name].description ? el('div', { class: 'muted' }, schemes[name].description) : null,
          ),
        ),
      ),
    );
    const global = requirementText(doc.security);
    section.append(el('p', {}, 'Required by default: ', el('code', {}, global || 'not stated')));
    return section;
  }

  function renderOperation(doc, path, method, op) {
    const upper = method.toUpperCase();
    const security = requirementText(op.security !== undefined ? op.security : doc.security);
    const locked = security && security !== 'none';
    const summary = el(
      'summary',
      {},
      el('span', { class: 'method m-' + method }, upper),
      ' ',
      el('code', { class: 'path' }, path),
      ' ',
      el('span', { class: 'summary' }, op.summary || ''),
      locked ? el('span', { class: 'lock', title: 'Requires ' + security }, security) : null,
    );
    const body = el('div', { class: 'op-body' });
    if (op.description) body.append(el('p', {}, op.description));
    body.append(el('p', { class: 'muted' }, 'Security: ', el('code', {}, security || 'not stated'), ' · operationId ', el('code', {}, op.operationId || '')));

    const params = op.parameters || [];
    if (params.length) {
      body.append(
        el('h4', {}, 'Parameters'),
        el(
          'table',
          { class: 'params' },
          el('thead', {}, el('tr', {}, el('th', {}, 'name'), el('th', {}, 'in'), el('th', {}, 'type'), el('th', {}, 'description'))),
          el(
            'tbody',
            {},
            params.map((p) =>
              el(
                'tr',
                {},
                el('td', {}, el('code', {}, p.name), p.required ? el('span', { class: 'req' }, ' required') : null),
                el('td', {}, p.in),
                el('td', {}, typeOf(p.schema)),
                el('td', {}, p.description || ''),
              ),
            ),
          ),
        ),
      );
    }
    const content = op.requestBody && op.requestBody.content;
    if (content) {
      for (const [type, media] of Object.entries(content)) {
        body.append(el('h4', {}, 'Body ', el('span', { class: 'muted' }, type + (op.requestBody.required ? ', required' : ''))), el('p', {}, typeOf(media.schema)));
      }
    }
    const responses = op.responses || {};
    body.append(
      el('h4', {}, 'Responses'),
      el(
        'table',
        { class: 'responses' },
        el(
          'tbody',
          {},
          Object.entries(responses).map(([status, response]) => {
            const media = response.content ? Object.entries(response.content) : [];
            return el(
              'tr',
              {},
              el('td', {}, el('code', { class: 'status s' + String(status)[0] }, status)),
              el('td', {}, response.description || ''),
              el('td', {}, media.map(([type, m]) => el('div', {}, el('span', { class: 'muted' }, type + ' '), typeOf(m.schema)))),
            );
          }),
        ),
      ),
    );
    return el('details', { class: 'op', id: 'op-' + method + '-' + path, 'data-operation': upper + ' ' + path }, summary, body);
  }

  function renderOperations(doc) {
    const byTag = new Map();
    for (const tag of doc.tags || []) byTag.set(tag.name, { tag, ops: [] });
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const name = (op.tags && op.tags[0]) || 'default';
        if (!byTag.has(name)) byTag.set(name, { tag: { name }, ops: [] });
        byTag.get(name).ops.push([path, method, op]);
      }
    }
    const sections = [];
    for (const { tag, ops } of byTag.values()) {
      if (!ops.length) continue;
      sections.push(
        el(
          'section',
          { class: 'tag', id: 'tag-' + tag.name.replace(/\s+/g, '-') },
          el('h2', {}, tag.name),
          tag.description ? el('p', { class: 'muted' }, tag.description) : null,
          ops.map(([path, method, op]) => renderOperation(doc, path, method, op)),
        ),
      );
    }
    return sections;
  }

  function renderSchemas(doc) {
    const schemas = (doc.components && doc.components.schemas) || {};
    return el(
      'section',
      { class: 'schemas', id: 'schemas' },
      el('h2', {}, 'Schemas'),
      Object.entries(schemas).map(([name, schema]) =>
        el(
          'details',
          { class: 'schema', id: 'schema-' + name },
          el('summary', {}, el('code', {}, name), ' ', el('span', { class: 'muted' }, schema.description || '')),
          propertiesTable(schema) || el('p', {}, typeOf(schema)),
        ),
      ),
    );
  }

  function filterBox() {
    const input = el('input', { type: 'search', id: 'filter', placeholder: 'Filter operations (method, path, summary)…', 'aria-label': 'Filter operations' });
    input.addEventListener('input', () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const op of document.querySelectorAll('details.op')) {
        const text = op.querySelector('summary').textContent.toLowerCase();
        op.hidden = !words.every((w) => text.includes(w));
      }
      for (const section of document.querySelectorAll('section.tag'))
        section.hidden = !section.querySelector('details.op:not([hidden])');
    });
    return el('div', { class: 'filter' }, input);
  }

  function render(doc) {
    const app = document.getElementById('app');
    const info = doc.info || {};
    document.getElementById('title').textContent = info.title || 'API reference';
    document.getElementById('version').textContent = 'version ' + (info.version || '?') + ' · OpenAPI ' + (doc.openapi || '?');
    document.title = (info.title || 'API reference') + ' · docs';
    app.replaceChildren(
      info.description ? el('p', { class: 'intro' }, info.description) : '',
      renderSecurity(doc),
      filterBox(),
      ...renderOperations(doc),
      renderSchemas(doc),
    );
    if (location.hash) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) {
        if (target.tagName === 'DETAILS') target.open = true;
        target.scrollIntoView();
      }
    }
  }

  function fail(message) {
    document.getElementById('app').replaceChildren(el('p', { class: 'error' }, message));
  }

  const inline = document.getElementById('openapi-document');
  if (inline) {
    try {
      render(JSON.parse(inline.textContent));
    } catch (err) {
      fail('Could not render the OpenAPI document: ' + err.message);
    }
  } else {
    fetch('openapi.json')
      .then((res) => {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(render)
      .catch((err) => fail('Could not load openapi.json: ' + err.message));
  }
})();
