// Writes the fixed-point LSTM golden vectors: tessel_lstm_golden <output folder>.
#include <fstream>
#include <iostream>

#include "models/lstm/golden.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <output folder, e.g. tests/models/lstm/golden>\n";
    return 2;
  }
  for (const auto& c : tessel::lstm::golden_cases()) {
    const std::string path = std::string(argv[1]) + "/" + c.name + ".txt";
    std::ofstream out(path, std::ios::binary);
    out << tessel::lstm::golden_text(c);
    if (!out) {
      std::cerr << path << ": cannot write\n";
      return 4;
    }
    std::cout << "wrote " << path << '\n';
  }
  return 0;
}
