// The seed's sample exchanges (Microsoft's "Authenticate an IMAP, POP or SMTP connection using
// OAuth"), kept verbatim so that the codecs are tested against what the documentation shows.
#pragma once

#include <string_view>

namespace mailoauth::test {

/// The seed's XOAUTH2 vector, and what it must encode to: one line, the line breaks that the
/// seed inserts "for readability" removed.
inline constexpr std::string_view seed_user = "test@contoso.onmicrosoft.com";
inline constexpr std::string_view seed_token = "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA";
inline constexpr std::string_view seed_xoauth2_base64 =
    "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0oz"
    "VmUwYmpMQldaV0NjbFJDM0VvQUEBAQ==";
/// The same as the seed prints it, over two lines.
inline constexpr std::string_view seed_xoauth2_base64_folded =
    "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVy\n"
    "IEV3QkFBbDNCQUFVRkZwVUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ==";

/// The initial response in the seed's IMAP samples ("A01 AUTHENTICATE XOAUTH2 ...").
inline constexpr std::string_view seed_imap_response =
    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhk"
    "SFJoZG1semRHRXVZMjl0Q2cBAQ==";

/// The seed's POP samples print the same response folded over three lines, split at two
/// different places.
inline constexpr std::string_view seed_pop_success_folded =
    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYX\n"
    "JlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0\n"
    "Q2cBAQ==";
inline constexpr std::string_view seed_pop_failure_folded =
    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlY\n"
    "XJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMj\n"
    "l0Q2cBAQ==";

/// The challenge of the seed's POP failure sample ("S: + eyJ...").
inline constexpr std::string_view seed_pop_challenge =
    "eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNv"
    "bS8ifQ==";

/// The token line of the seed's SMTP success sample (user jonjon@bellred.org, "auth=bearer").
inline constexpr std::string_view seed_smtp_success_response =
    "dXNlcj1qb25qb25AYmVsbHJlZC5vcmcBYXV0aD1iZWFyZXIgZXlKMGVYQWlPaUpLVjFRaUxDSnViMjVqWlNJNklt"
    "aFViemRVV2tKaFpUTkJSSEZoWTNOM1ZubHZZV0Y0UnpFNFZYUmhZbHBmVHpWMVN6TmlkbGRVVDJjaUxDSmhiR2Np"
    "T2lKU1V6STFOaUlzSW5nMWRDSTZJbGxOUlV4SVZEQm5kbUl3YlhodlUwUnZXV1p2YldweFptcFpWU0lzSW10cFpD"
    "STZJbGxOUlV4SVZEQm5kbUl3YlhodlUwUnZXV1p2YldweFptcFpWU0o5LmV5SmhkV1FpT2lKb2RIUndjem92TDI5"
    "MWRHeHZiMnN1YjJabWFXTmxNelkxTG1OdmJTSXNJbWx6Y3lJNkltaDBkSEJ6T2k4dmMzUnpMbmRwYm1SdmQzTXVi"
    "bVYwTHpOa05qWXhZemRtTFdZME5qUXROR05pWWkxaFl6VTJMV1ZtTmpZeE1UWTVaalJtTUM4aUxDSnBZWFFpT2pF"
    "MU9EVTNPREkxTkRrc0ltNWlaaUk2TVRVNE5UYzRNalUwT1N3aVpYaHdJam94TlRnMU56ZzJORFE1TENKaFkyTjBJ"
    "am93TENKaFkzSWlPaUl4SWl3aVlXbHZJam9pUVZSUlFYa3ZPRkJCUVVGQmFUWkhNemhpYzNsV1JYRm1lVTgyWVVO"
    "clYxUmhlVzhyUkhSSU1qQTNXRXhGVDNaSlZuSmtUbFZFWlhJNVMxaEJjbkF3UjFVMGNXTTFTMUZyZW5NMmR5SXNJ"
    "bUZ0Y2lJNld5SndkMlFpWFN3aVlYQndYMlJwYzNCc1lYbHVZVzFsSWpvaVIzSmhjR2hVWlhOMFFYQndNaUlzSW1G"
    "d2NHbGtJam9pWm1KallqRTROVFF0WkRWa09TMDBZamN3TFRneFpqZ3RNR1l5TmpBMU16VTRPVE5sSWl3aVlYQndh"
    "V1JoWTNJaU9pSXhJaXdpWlc1bWNHOXNhV1J6SWpwYlhTd2labUZ0YVd4NVgyNWhiV1VpT2lKS2IyNWxjeUlzSW1k"
    "cGRtVnVYMjVoYldVaU9pSktiMjRpTENKcGNHRmtaSElpT2lJM015NHlOVFF1TVRJeUxqRXlNaUlzSW01aGJXVWlP"
    "aUpLYjI0Z1NtOXVaWE1pTENKdmFXUWlPaUl3TlROaE9XRXpPQzA1TkRrMkxUUXlaV1l0WWpWbU5DMWlOelptWmpj"
    "M09UaGpaR0VpTENKd2RXbGtJam9pTVRBd016QXdNREJCTkVZMU9VRkJRaUlzSW5OamNDSTZJa2xOUVZBdVFXTmpa"
    "WE56UVhOVmMyVnlMa0ZzYkNCVFRWUlFMbE5sYm1RaUxDSnphV1FpT2lKa1l6ZzNZVEJrWVMwNE1qSTRMVFJsTURF"
    "dE9XWXpOaTAyTWpnNE9HRXdOREV6TW1NaUxDSnpkV0lpT2lKNFRtUkxkSFJCWDFaT1UxWkVPVlJtUTNWNVRsRkda"
    "bTFMT0VWUldIZENVREZ5Vm1KRVF6a3RMVzVOSWl3aWRHbGtJam9pTTJRMk5qRmpOMll0WmpRMk5DMDBZMkppTFdG"
    "ak5UWXRaV1kyTmpFeE5qbG1OR1l3SWl3aWRXNXBjWFZsWDI1aGJXVWlPaUpLYjI1S2IyNUFZbVZzYkhKbFpDNXZj"
    "bWNpTENKMWNHNGlPaUpLYjI1S2IyNUFZbVZzYkhKbFpDNXZjbWNpTENKMWRHa2lPaUl0TkRkTlkyVjBUVGhyUTBG"
    "TVVWZzBkRkpOUmtGQklpd2lkbVZ5SWpvaU1TNHdJbjAuWG1MSHl0RGhsa0J4eE1YWHN3amJVOG5PQjRFRjFYRDRU"
    "dlNtS2RNLUV5X2RWbkpXd0ZwZVpmeXcxUU9OSnFnM3lTdjRfTUJzVnNaYXJ5Q3BqNldQS2hSeXZFdU1SSFQwS3ND"
    "ZzRTVXEtLXNGS0c3S1dzQTNkdEg1U3NxbXcxbjRtQWwzVFJoWld0Qmk4dGpVWWlDUXhfbVNPWGtHYnNXTWFpXzBk"
    "RjlYM3VpVUxKVDNTVG00ekZURlMxeVEzcjVfWHgyMXY0aTJwRWJQVjlUenE4YU85MmZqSFNheHFUWjZfT0NRN0RF"
    "SUxfekgtbWtZWXU3eXRjZWtIVkgzVmtlMlRfRENIUVNSdm9ZTWNpYlNWNGVaNnVDYTdINmtBaUtwZ3B4QmMydHZI"
    "blhsdGZOb3d2T1JDdnVGZlRQV2tOckRKQ2g2M1pCcWFiRHNHc3VFY2VSNzdnAQE=";

/// The token line of the seed's SMTP failure sample (user jonjon@bellred.com, "auth=bearer").
inline constexpr std::string_view seed_smtp_failure_response =
    "dXNlcj1qb25qb25AYmVsbHJlZC5jb20BYXV0aD1iZWFyZXIgZXlKMGVYQWlPaUpLVjFRaUxDSnViMjVqWlNJNklt"
    "aFViemRVV2tKaFpUTkJSSEZoWTNOM1ZubHZZV0Y0UnpFNFZYUmhZbHBmVHpWMVN6TmlkbGRVVDJjaUxDSmhiR2Np"
    "T2lKU1V6STFOaUlzSW5nMWRDSTZJbGxOUlV4SVZEQm5kbUl3YlhodlUwUnZXV1p2YldweFptcFpWU0lzSW10cFpD"
    "STZJbGxOUlV4SVZEQm5kbUl3YlhodlUwUnZXV1p2YldweFptcFpWU0o5LmV5SmhkV1FpT2lKb2RIUndjem92TDI5"
    "MWRHeHZiMnN1YjJabWFXTmxNelkxTG1OdmJTSXNJbWx6Y3lJNkltaDBkSEJ6T2k4dmMzUnpMbmRwYm1SdmQzTXVi"
    "bVYwTHpOa05qWXhZemRtTFdZME5qUXROR05pWWkxaFl6VTJMV1ZtTmpZeE1UWTVaalJtTUM4aUxDSnBZWFFpT2pF"
    "MU9EVTNPREkxTkRrc0ltNWlaaUk2TVRVNE5UYzRNalUwT1N3aVpYaHdJam94TlRnMU56ZzJORFE1TENKaFkyTjBJ"
    "am93TENKaFkzSWlPaUl4SWl3aVlXbHZJam9pUVZSUlFYa3ZPRkJCUVVGQmFUWkhNemhpYzNsV1JYRm1lVTgyWVVO"
    "clYxUmhlVzhyUkhSSU1qQTNXRXhGVDNaSlZuSmtUbFZFWlhJNVMxaEJjbkF3UjFVMGNXTTFTMUZyZW5NMmR5SXNJ"
    "bUZ0Y2lJNld5SndkMlFpWFN3aVlYQndYMlJwYzNCc1lYbHVZVzFsSWpvaVIzSmhjR2hVWlhOMFFYQndNaUlzSW1G"
    "d2NHbGtJam9pWm1KallqRTROVFF0WkRWa09TMDBZamN3TFRneFpqZ3RNR1l5TmpBMU16VTRPVE5sSWl3aVlYQndh"
    "V1JoWTNJaU9pSXhJaXdpWlc1bWNHOXNhV1J6SWpwYlhTd2labUZ0YVd4NVgyNWhiV1VpT2lKS2IyNWxjeUlzSW1k"
    "cGRtVnVYMjVoYldVaU9pSktiMjRpTENKcGNHRmtaSElpT2lJM015NHlOVFF1TVRJeUxqRXlNaUlzSW01aGJXVWlP"
    "aUpLYjI0Z1NtOXVaWE1pTENKdmFXUWlPaUl3TlROaE9XRXpPQzA1TkRrMkxUUXlaV1l0WWpWbU5DMWlOelptWmpj"
    "M09UaGpaR0VpTENKd2RXbGtJam9pTVRBd016QXdNREJCTkVZMU9VRkJRaUlzSW5OamNDSTZJa2xOUVZBdVFXTmpa"
    "WE56UVhOVmMyVnlMa0ZzYkNCVFRWUlFMbE5sYm1RaUxDSnphV1FpT2lKa1l6ZzNZVEJrWVMwNE1qSTRMVFJsTURF"
    "dE9XWXpOaTAyTWpnNE9HRXdOREV6TW1NaUxDSnpkV0lpT2lKNFRtUkxkSFJCWDFaT1UxWkVPVlJtUTNWNVRsRkda"
    "bTFMT0VWUldIZENVREZ5Vm1KRVF6a3RMVzVOSWl3aWRHbGtJam9pTTJRMk5qRmpOMll0WmpRMk5DMDBZMkppTFdG"
    "ak5UWXRaV1kyTmpFeE5qbG1OR1l3SWl3aWRXNXBjWFZsWDI1aGJXVWlPaUpLYjI1S2IyNUFZbVZzYkhKbFpDNXZj"
    "bWNpTENKMWNHNGlPaUpLYjI1S2IyNUFZbVZzYkhKbFpDNXZjbWNpTENKMWRHa2lPaUl0TkRkTlkyVjBUVGhyUTBG"
    "TVVWZzBkRkpOUmtGQklpd2lkbVZ5SWpvaU1TNHdJbjAuWG1MSHl0RGhsa0J4eE1YWHN3amJVOG5PQjRFRjFYRDRU"
    "dlNtS2RNLUV5X2RWbkpXd0ZwZVpmeXcxUU9OSnFnM3lTdjRfTUJzVnNaYXJ5Q3BqNldQS2hSeXZFdU1SSFQwS3ND"
    "ZzRTVXEtLXNGS0c3S1dzQTNkdEg1U3NxbXcxbjRtQWwzVFJoWld0Qmk4dGpVWWlDUXhfbVNPWGtHYnNXTWFpXzBk"
    "RjlYM3VpVUxKVDNTVG00ekZURlMxeVEzcjVfWHgyMXY0aTJwRWJQVjlUenE4YU85MmZqSFNheHFUWjZfT0NRN0RF"
    "SUxfekgtbWtZWXU3eXRjZWtIVkgzVmtlMlRfRENIUVNSdm9ZTWNpYlNWNGVaNnVDYTdINmtBaUtwZ3B4QmMydHZI"
    "blhsdGZOb3d2T1JDdnVGZlRQV2tOckRKQ2g2M1pCcWFiRHNHc3VFY2VSNzdnAQE=";

}  // namespace mailoauth::test
