#ifndef MCPSONAR_CPCAP_SHIM_H
#define MCPSONAR_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
