// A Wagi test module in AssemblyScript (the WASI shim's console.log writes stdout).
console.log("Content-Type: text/plain\nX-Lang: assemblyscript\n");
console.log("hello from AssemblyScript");
