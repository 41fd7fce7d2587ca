/** Allure categories: what kind of failure or skip an operator is looking at. */
export const CATEGORIES = [
  { name: 'Lab unreachable', matchedStatuses: ['skipped'], messageRegex: '.*blocked: lab .* is not attached to this host.*' },
  { name: 'Blocked by a lower layer', matchedStatuses: ['skipped'], messageRegex: '.*blocked( by [a-z]+)?:.*' },
  { name: 'Waived deviation', matchedStatuses: ['skipped'], messageRegex: '.*waived \\(.*' },
  { name: 'Declared not applicable / lacking / not yet due', matchedStatuses: ['skipped'], messageRegex: '.*(not applicable|lacks|not yet due).*' },
  { name: 'Product defect (a decision is not honoured)', matchedStatuses: ['failed'], messageRegex: '^\\[[A-Z].*' },
  { name: 'Check error', matchedStatuses: ['broken', 'failed'] },
];
