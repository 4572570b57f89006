// The pieces test/integration/virtual-rows.e2e.test.ts drives in Chromium (bundled by page-bundle.ts).
export { rowWindow, VirtualRows } from '../../renderer/shared/virtual-rows.js';
export { RowFocus } from '../../renderer/shared/row-focus.js';
export { GroupMembers, MEMBER_ROW_HEIGHT } from '../../renderer/dashboard/group-members.js';
