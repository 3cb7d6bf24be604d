import { installCellFirstStacks } from "./kernel-errors.js";

// Loaded by the lab's kernel launcher (`node --import`, see the entry script) before tslab starts.
installCellFirstStacks();
