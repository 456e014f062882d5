import { InProcessJobRuns, InProcessSendPacing, nextSendSlot } from '../../storage/coordination.js';
import { describeCoordinationContract } from './coordinationContract.js';

describeCoordinationContract(
  'in-process (the embedded stores)',
  async (clock) => ({
    jobRuns: new InProcessJobRuns(clock),
    sendPacing: new InProcessSendPacing(clock),
  }),
  { shared: false },
);

describe('nextSendSlot', () => {
  it('is never before the last slot handed out, even when the windows have room earlier', () => {
    expect(nextSendSlot([5_000], 1_000, undefined)).toBe(5_000);
    expect(nextSendSlot([], 1_000, 3_000)).toBe(3_000);
    expect(nextSendSlot([0, 0, 0, 0, 0, 0, 0], 10, undefined)).toBe(1_000);
  });
});
