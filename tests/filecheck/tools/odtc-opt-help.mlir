// `odtc-opt --help` lists odtc's passes (and exits 0). COLUMNS keeps argparse from wrapping
// the comma-separated pass list in the middle of a name.

// RUN: env COLUMNS=10000 odtc-opt --help | filecheck %s
// CHECK: usage: odtc-opt
// CHECK: Available passes are: {{(.*,)?}}qtrain-fold-batchnorm{{(,|$)}}

// RUN: odtc-opt --version | filecheck %s --check-prefix=VERSION --match-full-lines
// VERSION: odtc-opt (xdsl {{[0-9.]+}})
