// What test/integration/confirm-dialog.e2e.test.ts drives in Chromium (bundled by page-bundle.ts).
export { confirmAction } from '../../renderer/shared/confirm.js';
