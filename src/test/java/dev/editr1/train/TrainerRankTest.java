package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One rank's view of an epoch, with its peer simulated (no process group): the share of whole
 * groups it takes, the gathered statistics it computes, and the ban — which every rank must apply
 * to every group of the epoch, or their next epochs would draw different prompts.
 */
class TrainerRankTest {
    /** Rank {@code rank} of two; the other rank's contribution to every gather is {@code peer}. */
    static final class FakeRank implements Collective {
        final int rank;
        double[] peer;

        FakeRank(int rank, double[] peer) {
            this.rank = rank;
            this.peer = peer;
        }

        @Override
        public int rank() {
            return rank;
        }

        @Override
        public int worldSize() {
            return 2;
        }

        @Override
        public double[][] gather(double[] local) {
            return rank == 0 ? new double[][] {local.clone(), peer.clone()} : new double[][] {peer.clone(), local.clone()};
        }

        @Override
        public ReduceStats allReduceSum(List<Tensor> tensors, double weight) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void broadcast(List<Tensor> tensors) {}

        @Override
        public String broadcast(String text) {
            return text;
        }

        @Override
        public void verifySame(String what, double[] values) {}
    }

    @Test
    void sharesGatheredStatisticsAndTheBanAreTheEpochs(@TempDir Path tmp) throws Exception {
        TrainConfig c = TrainerTest.small(1);
        c.prompts = 3;    // rank 0 takes 1 group, rank 1 two
        c.ban = true;
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        try (RunContext ctx = RunContext.open(c, quiet, TrainerTest.OPS, null)) {
            Trainer one = new Trainer(ctx, new RunFolder(tmp.resolve("one")), quiet);
            // group 0 (rank 0's): all 0.95, so std 0 and mean > 0.9 — filtered and banned; groups 1, 2 vary
            double[] g0 = {0.95, 0.95, 0.95, 0.95}, g12 = {0.1, 0.5, 0.9, 0.3, 0.2, 0.4, 0.6, 0.8};
            double[] q0 = {0.9, 0.9, 0.9, 0.9}, q12 = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
            double[] d0 = {0.1, 0.1, 0.2, 0.2}, d12 = {0.3, 0.3, 0.3, 0.3, 0.4, 0.4, 0.4, 0.4};   // drift from the source
            double[] m0 = {1, 1, 0.5, 1}, m12 = {1, 1, 1, 1, 0.9, 0.9, 0.9, 0.9};               // score-token mass
            double[] peerOfRank1 = new double[17];   // rank 0's [rewards | qualities | drifts | masses | low mass]
            System.arraycopy(g0, 0, peerOfRank1, 0, 4);
            System.arraycopy(q0, 0, peerOfRank1, 4, 4);
            System.arraycopy(d0, 0, peerOfRank1, 8, 4);
            System.arraycopy(m0, 0, peerOfRank1, 12, 4);
            peerOfRank1[16] = 1;
            Trainer r1 = new Trainer(ctx, RunFolder.forRank(tmp.resolve("r"), 1), quiet, new FakeRank(1, peerOfRank1));
            Trainer r0 = new Trainer(ctx, RunFolder.forRank(tmp.resolve("r"), 0), quiet, new FakeRank(0, new double[0]));
            for (Trainer t : List.of(one, r1, r0)) t.setUp(false);   // selectSamples asks the objective which samples it trains
            Trainer.EpochPlan all = one.plan(0), p0 = r0.plan(0), p1 = r1.plan(0);
            assertEquals(all.prompts().subList(0, 1), p0.prompts());
            assertEquals(all.prompts().subList(1, 3), p1.prompts());
            assertEquals(4, p1.firstSample());
            assertEquals(all.id(4), p1.id(0), "a sample's global id does not depend on the world size");
            assertEquals(all.epochPrompts(), p1.epochPrompts());

            Trainer.Selection s1 = r1.selectSamples(p1, new Trainer.Rollout(List.of(), List.of(), q12, d12, 0),
                    new Trainer.Rewards(g12, m12, 2, List.of(), 0));
            double[] epoch = new double[12];
            System.arraycopy(g0, 0, epoch, 0, 4);
            System.arraycopy(g12, 0, epoch, 4, 8);
            Trainer.Selection s = one.selectSamples(all, new Trainer.Rollout(List.of(), List.of(), new double[12], new double[12], 0),
                    new Trainer.Rewards(epoch, new double[12], 0, List.of(), 0));
            // the monitor's per-sample signals are the epoch's too, in rank order
            assertArrayEquals(new double[] {0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.4, 0.4, 0.4, 0.4}, s1.drift());
            assertArrayEquals(new double[] {1, 1, 0.5, 1, 1, 1, 1, 1, 0.9, 0.9, 0.9, 0.9}, s1.mass());
            assertArrayEquals(new double[] {0.9, 0.9, 0.9, 0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, s1.quality());
            assertArrayEquals(s.stats().advantage, s1.stats().advantage, "the epoch's statistics from the gathered rewards");
            assertArrayEquals(epoch, s1.rewards());
            assertEquals(3, s1.lowMass());
            assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, s1.kept(), "rank 1 keeps its two groups (local indices)");
            assertTrue(s.stats().filtered[0] && !s.stats().valid[0]);
            // the ban of rank 0's group reaches rank 1's banned set, as it does in one process
            String key = all.prompts().get(0).groupKey();
            assertTrue(one.banned().contains(key) && r1.banned().contains(key), "banned on every rank: " + r1.banned());
            assertFalse(r1.plan(1).epochPrompts().contains(all.prompts().get(0)), "and skipped by every rank's next epoch");
            assertEquals(one.plan(1).epochPrompts(), r1.plan(1).epochPrompts());
        }
    }

    @Test
    void moreRanksThanPromptsIsRefused(@TempDir Path tmp) throws Exception {
        TrainConfig c = TrainerTest.small(1);
        c.prompts = 1;
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        try (RunContext ctx = RunContext.open(c, quiet, TrainerTest.OPS, null)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new Trainer(ctx, new RunFolder(tmp), quiet, new FakeRank(0, new double[0])));
            assertTrue(e.getMessage().contains("prompts (1 per epoch) must be at least the number of ranks (2)"), e.getMessage());
        }
    }
}
