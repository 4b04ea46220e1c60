package dev.editr1.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import dev.editr1.train.TrainConfig;
import dev.editr1.world.EmbeddedDataset;
import dev.editr1.world.WorldExport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code editr1 export-world DIR}: the embedded world as a dataset folder in Edit-R1's layout. */
@Command(name = "export-world", mixinStandardHelpOptions = true,
        description = "Write the embedded world as a dataset folder in Edit-R1's layout (train/test_metadata.jsonl, PNG sources and targets).")
final class ExportWorldCommand implements Callable<Integer> {
    @Parameters(index = "0", description = "the folder to create (must not exist, or be empty)")
    Path dir;

    @Option(names = "--train-tasks", description = "train tasks (default: the training default, 20000)")
    Integer trainTasks;

    @Option(names = "--held-out-tasks", description = "held-out tasks (default 128)")
    Integer heldOutTasks;

    @Option(names = "--world-seed", description = "the world's seed (default 2026)")
    Long worldSeed;

    @Option(names = "--image-size", description = "canvas side in pixels (default 18)")
    Integer imageSize;

    @Override
    public Integer call() throws Exception {
        TrainConfig d = new TrainConfig();
        EmbeddedDataset world = new EmbeddedDataset(worldSeed != null ? worldSeed : d.worldSeed,
                trainTasks != null ? trainTasks : d.trainTasks, heldOutTasks != null ? heldOutTasks : d.heldOutTasks,
                imageSize != null ? imageSize : d.imageSize);
        int[] n = WorldExport.export(world, dir);
        System.out.println("export-world: " + n[0] + " train and " + n[1] + " held-out tasks written to " + dir
                + " (train it with: editr1 train --data " + dir + ")");
        return 0;
    }
}
