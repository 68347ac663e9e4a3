#pragma once
#include <sys/time.h>
typedef void (*sntp_sync_time_cb_t)(struct timeval* tv);
extern "C" void sntp_set_time_sync_notification_cb(sntp_sync_time_cb_t callback);
void configTime(long gmtOffset_sec, int daylightOffset_sec, const char* server1, const char* server2 = nullptr,
                const char* server3 = nullptr);
