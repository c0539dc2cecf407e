// The conformance runner imports fs.globSync (Node 22+) for its tier-check command only; on
// Node 20 the import alone fails, so it is dropped from the runner's import list.
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (url.includes("/@modelcontextprotocol/conformance/") && result.source) {
    const source = result.source.toString().replace(/globSync as (\w+),/, "");
    return { ...result, source };
  }
  return result;
}
