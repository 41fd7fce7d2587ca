import { expect, test } from 'vitest';
import { computeFailure } from './instance-actions.ts';

test("a failed build names the compute node's own error, not only Nova's reschedule fault", () => {
  const actions = [{
    instanceAction: {
      action: 'create',
      events: [
        { event: 'conductor_schedule_and_build_instances', result: 'Success', traceback: null },
        {
          event: 'compute__do_build_and_run_instance', result: 'Error', host: 'node2',
          traceback: "Traceback (most recent call last):\n  File \"x.py\", line 1\nPermissionError: [Errno 13] Permission denied: 'genisoimage'\n",
        },
      ],
    },
  }];
  expect(computeFailure(actions)).toBe(
    "compute__do_build_and_run_instance on node2: PermissionError: [Errno 13] Permission denied: 'genisoimage'");
  expect(computeFailure([{ instanceAction: { events: [{ result: 'Success' }] } }])).toBeUndefined();
  expect(computeFailure('instance actions unavailable: 403')).toBeUndefined();
});
