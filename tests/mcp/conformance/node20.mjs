// Preloaded with `node --import`: registers the Node 20 compatibility hook.
import { register } from "node:module";

register("./node20-globsync-hook.mjs", import.meta.url);
