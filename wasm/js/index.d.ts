// Every entry point (workerd, Node, Deno, bundlers) is initialized on import and exports the
// same functions and types.
export * from "./mailstate.js";
