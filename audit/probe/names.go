package probe

// wellKnown names the RPC interfaces an estate's firewall rules usually
// concern, by UUID: Samba's short names where Samba has the interface (they
// match "rpcclient -c epmlookup"), otherwise the name used in the
// Microsoft open specification given in the comment. An interface keeps
// its UUID across versions, so the version is not part of the key.
var wellKnown = map[UUID]string{
	// Endpoint mapper and management (C706).
	mustUUID("e1af8308-5d1f-11c9-91a4-08002b14a0fa"): "epmapper",
	mustUUID("afa8bd80-7d8a-11c9-bef4-08002b102989"): "mgmt",

	// Active Directory.
	mustUUID("e3514235-4b06-11d1-ab04-00c04fc2dcd2"): "drsuapi",   // MS-DRSR
	mustUUID("7c44d7d4-31d5-424c-bd5e-2b3e1f323d22"): "dsaop",     // MS-DRSR
	mustUUID("12345678-1234-abcd-ef00-01234567cffb"): "netlogon",  // MS-NRPC
	mustUUID("12345778-1234-abcd-ef00-0123456789ab"): "lsarpc",    // MS-LSAD, MS-LSAT
	mustUUID("12345778-1234-abcd-ef00-0123456789ac"): "samr",      // MS-SAMR
	mustUUID("3919286a-b10c-11d0-9ba8-00c04fd92ef5"): "dssetup",   // MS-DSSP
	mustUUID("3dde7c30-165d-11d1-ab8f-00805f14db40"): "backupkey", // MS-BKRP
	mustUUID("b9785960-524f-11df-8b6d-83dcded72085"): "gkdi",      // MS-GKDI
	mustUUID("afc07e2e-311c-4435-808c-c483ffeec7c9"): "lsacap",    // MS-CAPR
	mustUUID("68dcd486-669e-11d1-ab0c-00c04fc2dcd2"): "ismserv",   // intersite messaging
	mustUUID("ecec0d70-a603-11d0-96b1-00a0c91ece30"): "ntdsbackup",
	mustUUID("50abc2a4-574d-40b3-9d66-ee4fd5fba076"): "dnsserver", // MS-DNSP
	mustUUID("f5cc59b4-4264-101a-8c59-08002b2f8426"): "frsrpc",    // MS-FRS1
	mustUUID("897e2e5f-93f3-4376-9c9c-fd2277495c27"): "frstrans",  // MS-FRS2 (DFS-R)
	mustUUID("4fc742e0-4a10-11cf-8273-00aa004ae673"): "netdfs",    // MS-DFSNM

	// Certificate services.
	mustUUID("91ae6020-9e3c-11cf-8d7c-00aa00c091be"): "icertpassage", // MS-ICPR
	mustUUID("d99e6e71-fc88-11d0-b498-00a0c90312f3"): "icertadmind",  // MS-CSRA
	mustUUID("7fe0d935-dda6-443f-85d0-1cfb58fe41dd"): "icertadmind2", // MS-CSRA

	// File, print and server management.
	mustUUID("4b324fc8-1670-01d3-1278-5a47bf6ee188"): "srvsvc",   // MS-SRVS
	mustUUID("6bffd098-a112-3610-9833-46c3f87e345a"): "wkssvc",   // MS-WKST
	mustUUID("6bffd098-a112-3610-9833-012892020162"): "browser",  // MS-BRWSA
	mustUUID("12345678-1234-abcd-ef00-0123456789ab"): "spoolss",  // MS-RPRN
	mustUUID("76f03f96-cdfd-44fc-a22c-64950a001209"): "winspool", // MS-PAR
	mustUUID("0b6edbfa-4a24-4fc6-8a23-942b1eca65d1"): "pan",      // MS-PAN
	mustUUID("ae33069b-a2a8-46ee-a235-ddfd339be281"): "pan",      // MS-PAN
	mustUUID("367abb81-9844-35f1-ad32-98f038001003"): "svcctl",   // MS-SCMR
	mustUUID("338cd001-2244-31f1-aaaa-900038001003"): "winreg",   // MS-RRP
	mustUUID("82273fdc-e32a-18c3-3f78-827929dc23ea"): "eventlog", // MS-EVEN
	mustUUID("f6beaff7-1e19-4fbb-9f8f-b89e2018337c"): "eventlog6",
	mustUUID("1ff70682-0a51-30e8-076d-740be8cee98b"): "atsvc", // MS-TSCH
	mustUUID("378e52b0-c0a9-11cf-822d-00aa0051e40f"): "sasec", // MS-TSCH
	mustUUID("86d35949-83c9-4044-b424-db363231fd0c"): "itaskschedulerservice",
	mustUUID("c681d488-d850-11d0-8c52-00c04fd90f7e"): "efsrpc", // MS-EFSR
	mustUUID("df1941c5-fe89-4e79-bf10-463657acf44d"): "efsrpc", // MS-EFSR
	mustUUID("ccd8c074-d0e5-4a40-92b4-d074faa6ba28"): "witness",
	mustUUID("a8e0653c-2744-4389-a61d-7373df8b2292"): "fsrvp",
	mustUUID("894de0c0-0d55-11d3-a322-00c04fa321a1"): "initshutdown", // MS-RSP
	mustUUID("d95afe70-a6d5-4259-822e-2c84da1ddb0d"): "windowsshutdown",
	mustUUID("6b5bdd1e-528c-422c-af8c-a4079be4fe48"): "fasp", // MS-FASP, Windows Firewall
	mustUUID("300f3532-38cc-11d0-a3f0-0020af6b0add"): "trkwks",
	mustUUID("4da1c422-943d-11d1-acae-00c04fc2aa3f"): "trksvr",
	mustUUID("8d9f4e40-a03d-11ce-8f69-08003e30051b"): "ntsvcs",   // MS-PNPR
	mustUUID("9c54e310-a955-4885-bd31-78787147dfa6"): "unixinfo", // Samba
	mustUUID("885d85fb-c754-4062-a0e7-6872ce0064f4"): "mdssvc",   // Samba (Spotlight)

	// DHCP, WINS, messaging, transactions.
	mustUUID("6bffd098-a112-3610-9833-46c3f874532d"): "dhcpsrv",  // MS-DHCPM
	mustUUID("5b821720-f63b-11d0-aad2-00c04fc324db"): "dhcpsrv2", // MS-DHCPM
	mustUUID("45f52c28-7f9f-101a-b52b-08002b2efabe"): "winsif",   // MS-RAIW
	mustUUID("811109bf-a4e1-11d1-ab54-00a0c91e9b45"): "winsi2",   // MS-RAIW
	mustUUID("17fdd703-1827-4e34-79d4-24a55c53bb37"): "msgsvc",   // MS-MSRP
	mustUUID("906b0ce0-c70b-1067-b317-00dd010662da"): "msdtc",    // MS-CMPO

	// DCOM.
	mustUUID("99fcfec4-5260-101b-bbcb-00aa0021347a"): "iobjectexporter",
	mustUUID("000001a0-0000-0000-c000-000000000046"): "iremotescmactivator",
	mustUUID("4d9f4ab8-7d1c-11cf-861e-0020af6e7c57"): "iactivation",

	// Exchange.
	mustUUID("f5cc5a18-4264-101a-8c59-08002b2f8426"): "nspi",   // MS-NSPI
	mustUUID("1544f5e0-613c-11d1-93df-00c04fd7bd09"): "rfr",    // MS-OXABREF
	mustUUID("a4f1db00-ca47-1067-b31f-00dd010662da"): "emsmdb", // MS-OXCRPC

	// Remote Desktop (MS-TSTS).
	mustUUID("484809d6-4239-471b-b5bc-61df8c23ac48"): "lsmsession",
	mustUUID("5ca4a760-ebb1-11cf-8611-00a0245420ed"): "icaapi",
	mustUUID("11899a43-2b68-4a76-92e3-a3d6ad8c26ce"): "termsrvnotification",
	mustUUID("88143fd0-c28d-4b2b-8fef-8d882f6a9390"): "termsrvenumeration",
	mustUUID("bde95fdf-eee0-45de-9e12-e5a61cd0d4fe"): "rcmpublic",
	mustUUID("497d95a6-2d27-4bf5-9bbd-a6046957133c"): "rcmlistener",
	mustUUID("1257b580-ce2f-4109-82d6-a9459d0bf6bc"): "sessenvpublicrpc",
	mustUUID("53b46b02-c73b-4a3e-8dee-b16b80672fc0"): "tsvippublic",
}

// InterfaceName returns the well-known name of the interface with UUID u,
// such as "drsuapi", or "" when it has none.
func InterfaceName(u UUID) string { return wellKnown[u] }
