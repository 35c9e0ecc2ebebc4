// Client-side upload checks (mirroring the server's settings) and uploads with
// per-file progress through XMLHttpRequest. The server checks again by content.
import { authHeaders, handleAuthFailure, ApiError } from './api.js';
import { formatBytes } from './format.js';

// Magic bytes of the types we know. A type enabled on the server that is not
// listed here is checked by extension only.
const SIGNATURES = {
  pdf: [[0x25, 0x50, 0x44, 0x46, 0x2d]], // %PDF-
  docx: [[0x50, 0x4b, 0x03, 0x04]], // a ZIP container (the server checks the XML parts)
  png: [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  jpg: [[0xff, 0xd8, 0xff]],
  jpeg: [[0xff, 0xd8, 0xff]],
  tiff: [[0x49, 0x49, 0x2a, 0x00], [0x4d, 0x4d, 0x00, 0x2a]],
  tif: [[0x49, 0x49, 0x2a, 0x00], [0x4d, 0x4d, 0x00, 0x2a]],
};

export function extensionOf(name) {
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(i + 1).toLowerCase() : '';
}

export function acceptAttribute(types) {
  return types.map((t) => `.${t}`).join(',');
}

function startsWith(bytes, sig) {
  return sig.every((b, i) => bytes[i] === b);
}

/** Sniff the first bytes: returns the detected known type or ''. */
export function sniff(bytes) {
  for (const [type, sigs] of Object.entries(SIGNATURES)) {
    if (sigs.some((s) => startsWith(bytes, s))) return type === 'jpeg' ? 'jpg' : type === 'tif' ? 'tiff' : type;
  }
  return '';
}

function sameFamily(a, b) {
  const norm = (t) => (t === 'jpeg' ? 'jpg' : t === 'tif' ? 'tiff' : t);
  return norm(a) === norm(b);
}

/**
 * Check a File against the settings {supported_file_types, max_upload_size_mb}.
 * Resolves to '' when acceptable or to a plain-words reason.
 */
export async function checkFile(file, settings) {
  const types = (settings.supported_file_types || []).map((t) => String(t).toLowerCase());
  const ext = extensionOf(file.name);
  const list = types.map((t) => t.toUpperCase()).join(', ');
  if (!ext || !types.includes(ext)) {
    return `${ext ? `.${ext} files are` : 'Files without an extension are'} not accepted. Accepted types: ${list || 'none'}.`;
  }
  const max = Number(settings.max_upload_size_mb) * 1024 * 1024;
  if (max > 0 && file.size > max) {
    return `The file is ${formatBytes(file.size)}, above the ${settings.max_upload_size_mb} MB limit.`;
  }
  if (file.size === 0) return 'The file is empty.';
  if (SIGNATURES[ext]) {
    const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
    const detected = sniff(head);
    if (!detected || !sameFamily(detected, ext)) {
      return `The content does not look like a ${ext.toUpperCase()} file${detected ? ` (it looks like ${detected.toUpperCase()})` : ''}.`;
    }
  }
  return '';
}

/**
 * Upload one file to a project. onProgress(fraction) is called as bytes leave.
 * Returns {promise, abort}. The promise resolves to the created document.
 */
export function uploadFile(projectId, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = (async () => {
    const headers = await authHeaders();
    return new Promise((resolve, reject) => {
      xhr.open('POST', '/api/documents');
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.responseType = 'text';
      xhr.upload.addEventListener('progress', (e) => {
        if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener('load', () => {
        let body = null;
        try { body = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(body);
          return;
        }
        const ra = Number(xhr.getResponseHeader('Retry-After'));
        const err = new ApiError(xhr.status, body && typeof body.detail === 'string' ? body.detail : '',
          Number.isFinite(ra) && ra > 0 ? ra : undefined);
        handleAuthFailure(err);
        reject(err);
      });
      xhr.addEventListener('error', () => reject(new ApiError(0, 'network')));
      xhr.addEventListener('abort', () => reject(new DOMException('Upload cancelled', 'AbortError')));
      const form = new FormData();
      form.append('project_id', projectId); // before the file: the server streams the file part
      form.append('file', file, file.name);
      xhr.send(form);
    });
  })();
  return { promise, abort: () => xhr.abort() };
}
