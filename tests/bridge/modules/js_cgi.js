// A Wagi test script for %%wasm_js: QuickJS-ng's qjs --std runs it from /app (a volume of the component).
console.log("Content-Type: text/plain\nX-Lang: js\n");
console.log("args: " + scriptArgs.slice(1).join(" "));
console.log("method: " + std.getenviron().REQUEST_METHOD);
