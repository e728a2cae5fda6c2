// A Wagi test module in C++ (libc++ for wasm32-wasi).
#include <iostream>

int main(int argc, char **argv) {
  std::cout << "Content-Type: text/plain\nX-Lang: cpp\n\n";
  for (int i = 0; i < argc; i++) std::cout << "argv[" << i << "]=" << argv[i] << "\n";
}
