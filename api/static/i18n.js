// CertLedger verification page: every visible string, in Simplified Chinese and English.
// Plain ES module, no build step. Keys are stable; "zh-CN" is the default language.

export const LANGS = ["zh-CN", "en"];
export const DEFAULT_LANG = "zh-CN";

const zh = {
  "page.title": "证书核验 · CertLedger",
  "app.name": "CertLedger 电子证照互认",
  "app.heading": "证书核验",
  "app.intro": "扫描或上传证书二维码，或粘贴二维码内容，即可查验证书是否真实、有效，以及本地区是否认可。",
  "skip": "跳到核验结果",
  "lang.toggle": "English",
  "lang.toggle.label": "Switch to English（切换为英文）",
  "contrast.toggle": "大字模式",
  "contrast.toggle.on": "大字模式：开",
  "contrast.toggle.label": "大字、高对比度显示",

  "region.label": "核验地区（您所在的地区）",
  "region.help": "结果会说明该证书在这个地区是否被认可。",
  "region.any": "不指定（不检查跨区域认可）",
  "region.other": "地区代码 {code}",

  "scan.heading": "方式一：用摄像头扫码",
  "scan.start": "打开摄像头扫码",
  "scan.stop": "停止扫码",
  "scan.hint": "请把证书二维码放在取景框中间，保持稳定。",
  "scan.video": "摄像头画面",
  "scan.starting": "正在打开摄像头……",
  "scan.scanning": "正在扫描，请对准二维码……",
  "scan.found": "已识别二维码，正在核验……",
  "scan.notours": "识别到的二维码不是 CertLedger 证书二维码，请换一个二维码。",
  "scan.err.insecure": "此页面无法使用摄像头：需要通过 HTTPS 打开，或浏览器不支持。请改用上传图片或粘贴内容。",
  "scan.err.denied": "没有摄像头权限。请在浏览器设置中允许使用摄像头，或改用上传图片。",
  "scan.err.notfound": "没有找到摄像头。请改用上传图片或粘贴内容。",
  "scan.err.busy": "摄像头正被其他程序占用。请关闭其他程序后重试。",
  "scan.err.other": "摄像头无法打开。请改用上传图片或粘贴内容。",

  "upload.heading": "方式二：上传二维码图片",
  "upload.button": "选择图片",
  "upload.help": "支持 PNG、JPEG 格式的二维码照片或截图，也可以选择证书文件（.json）。",
  "upload.decoding": "正在识别图片中的二维码……",
  "upload.server": "本机未能识别，正在交由服务器识别……",
  "upload.notours": "图片中的二维码不是 CertLedger 证书二维码。",
  "upload.badtype": "请选择 PNG 或 JPEG 图片，或 .json 证书文件。",
  "upload.toobig": "文件太大（最大 {max} MB）。",
  "upload.chosen": "已选择：{name}",

  "paste.heading": "方式三：粘贴二维码内容或证书文件",
  "paste.label": "二维码内容（以 CLC1: 或 CLF1: 开头）或证书文件内容（JSON）",
  "paste.placeholder": "CLC1:……  或  CLF1:……  或  { …… }",
  "paste.help": "使用扫码枪时，扫描后会自动核验。",
  "paste.empty": "请先粘贴二维码内容或证书文件内容。",
  "paste.badjson": "粘贴的内容不是有效的证书文件（JSON 格式错误）。",
  "paste.notours": "这不是 CertLedger 证书二维码内容。二维码内容应以 CLC1: 或 CLF1: 开头。",
  "verify.button": "核验",
  "clear.button": "清空，核验下一份",

  "result.heading": "核验结果",
  "result.none": "尚未核验。请扫描、上传或粘贴证书二维码。",
  "result.checking": "正在核验，请稍候……",
  "result.announce": "核验结果：{word}。{explain}",
  "result.retry": "重试",

  "verdict.VALID": "有效",
  "verdict.REVOKED": "已撤销",
  "verdict.SUSPENDED": "已暂停",
  "verdict.EXPIRED": "已过期",
  "verdict.NOT_RECOGNIZED": "本地区|不予认可",
  "verdict.INVALID": "无效/|被篡改",
  "verdict.UNKNOWN": "未登记",
  "verdict.ERROR": "暂时|无法核验",
  "verdict.OTHER": "无法|判断",

  "explain.VALID": "该证书真实，目前有效。",
  "explain.VALID.region": "该证书真实，目前有效，并在{region}获得认可。",
  "explain.REVOKED": "签发机构已撤销该证书，不能再使用。",
  "explain.SUSPENDED": "该证书目前已暂停使用。请持证人联系签发机构。",
  "explain.EXPIRED": "该证书已超过有效期。",
  "explain.NOT_RECOGNIZED": "本地区（{region}）目前不认可该地区签发的此类证书。",
  "explain.NOT_RECOGNIZED.noregion": "本地区目前不认可该地区签发的此类证书。",
  "explain.INVALID": "证书内容被篡改、伪造，或不是由有权机构合法签发的。不能使用。",
  "explain.UNKNOWN": "区块链账本上没有这份证书的登记记录。请核对后重试，或联系签发机构。",
  "explain.ERROR": "系统暂时无法完成核验，这并不表示证书有问题。请稍后重试。",
  "explain.OTHER": "系统返回了无法识别的结果，请联系工作人员。",

  "checks.heading": "核验项目",
  "check.ok": "通过",
  "check.fail": "未通过",
  "check.skip": "未检查",
  "check.integrity": "完整性",
  "check.anchored": "已上链",
  "check.issuer_authorized": "签发机构授权",
  "check.key_valid": "签名密钥有效",
  "check.status": "状态",
  "check.validity_period": "有效期",
  "check.recognition": "跨区域认可",

  "facts.heading": "证书信息",
  "facts.type": "证书类型",
  "facts.issuer_region": "签发地区",
  "facts.agency": "签发机构",
  "facts.valid": "有效期",
  "facts.valid.range": "{from} 至 {until}",
  "facts.valid.open": "{from} 起长期有效",
  "facts.anchored_block": "上链区块",
  "facts.anchored_time": "上链时间",
  "facts.tx": "上链交易",
  "facts.hash": "证书哈希",
  "facts.batch_root": "批次根",
  "facts.verifier_region": "核验地区",
  "facts.verifier_region.none": "未指定",
  "facts.as_of": "核验时间",
  "facts.source": "数据来源",
  "source.mirror": "账本镜像，区块 {block}",
  "source.chain": "区块链节点，区块 {block}",
  "source.lag": "（落后 {n} 个区块）",
  "facts.block": "第 {block} 块",

  "fields.heading": "持证人出示的信息",
  "fields.hidden": "未公开",
  "value.sex.M": "男",
  "value.sex.F": "女",
  "fields.hidden.note": "以下信息持证人选择不公开，但不影响核验结果。",

  "error.heading": "无法核验这份内容",
  "error.code": "错误代码：{code}",
  "error.network": "无法连接核验服务。请检查网络后重试。",
  "error.timeout": "核验服务响应超时。请稍后重试。",
  "error.server": "核验服务暂时出现问题（{status}）。",
  "error.badresponse": "核验服务返回了无法识别的内容。",
  "error.client": "这份内容无法核验（{status}）。",
  "error.busy": "核验请求过多，请稍后重试。",
  "error.noqr": "图片中没有找到二维码。请拍得更清楚一些，或改用其他方式。",
  "error.decoder": "二维码识别组件加载失败。",

  "region.440000": "广东省",
  "region.330000": "浙江省",
  "region.110000": "北京市",

  "type.ID_CARD": "居民身份证",
  "type.BUSINESS_LICENSE": "营业执照",
  "type.DEGREE": "学位证书",
  "type.DRIVING_LICENCE": "机动车驾驶证",
  "type.SOCIAL_SECURITY_CARD": "社会保障卡",
  "type.PROFESSIONAL_QUALIFICATION": "职业资格证书",
  "type.MARRIAGE_CERTIFICATE": "结婚证",
  "type.HOUSEHOLD_REGISTRATION": "户口登记",

  "footer.privacy": "核验只读取证书的哈希值和您选择出示的信息；个人信息不会写入区块链。",
  "footer.staff": "如有疑问，请咨询窗口工作人员。",
  "noscript": "本页面需要启用 JavaScript 才能核验证书。",
};

const en = {
  "page.title": "Certificate check · CertLedger",
  "app.name": "CertLedger e-certificate recognition",
  "app.heading": "Check a certificate",
  "app.intro": "Scan or upload a certificate's QR code, or paste its content, to see whether the certificate is genuine, in force, and recognised in your region.",
  "skip": "Skip to the result",
  "lang.toggle": "中文",
  "lang.toggle.label": "切换为中文 (Switch to Chinese)",
  "contrast.toggle": "Large text",
  "contrast.toggle.on": "Large text: on",
  "contrast.toggle.label": "Large text, high contrast",

  "region.label": "Verifying region (where you are)",
  "region.help": "The result says whether this region recognises the certificate.",
  "region.any": "Any / none (recognition not checked)",
  "region.other": "Region code {code}",

  "scan.heading": "1. Scan with the camera",
  "scan.start": "Open the camera and scan",
  "scan.stop": "Stop scanning",
  "scan.hint": "Hold the certificate's QR code in the middle of the picture and keep it still.",
  "scan.video": "Camera picture",
  "scan.starting": "Opening the camera…",
  "scan.scanning": "Scanning — point the camera at the QR code…",
  "scan.found": "QR code read. Checking…",
  "scan.notours": "That QR code is not a CertLedger certificate QR code. Try another one.",
  "scan.err.insecure": "The camera cannot be used on this page: it must be opened over HTTPS, or the browser does not support it. Upload a picture or paste the content instead.",
  "scan.err.denied": "No permission to use the camera. Allow the camera in the browser settings, or upload a picture instead.",
  "scan.err.notfound": "No camera was found. Upload a picture or paste the content instead.",
  "scan.err.busy": "The camera is being used by another program. Close it and try again.",
  "scan.err.other": "The camera could not be opened. Upload a picture or paste the content instead.",

  "upload.heading": "2. Upload a picture of the QR code",
  "upload.button": "Choose a picture",
  "upload.help": "A PNG or JPEG photo or screenshot of the QR code. A certificate file (.json) also works.",
  "upload.decoding": "Reading the QR code in the picture…",
  "upload.server": "Could not read it here; asking the server to read it…",
  "upload.notours": "The QR code in the picture is not a CertLedger certificate QR code.",
  "upload.badtype": "Choose a PNG or JPEG picture, or a .json certificate file.",
  "upload.toobig": "The file is too large (at most {max} MB).",
  "upload.chosen": "Chosen: {name}",

  "paste.heading": "3. Paste the QR content or a certificate file",
  "paste.label": "QR content (starts with CLC1: or CLF1:) or a certificate file's content (JSON)",
  "paste.placeholder": "CLC1:…  or  CLF1:…  or  { … }",
  "paste.help": "With a handheld QR scanner, the check starts by itself after each scan.",
  "paste.empty": "Paste the QR content or a certificate file's content first.",
  "paste.badjson": "The pasted text is not a valid certificate file (the JSON is malformed).",
  "paste.notours": "This is not the content of a CertLedger QR code. It should start with CLC1: or CLF1:.",
  "verify.button": "Verify",
  "clear.button": "Clear for the next check",

  "result.heading": "Result",
  "result.none": "Nothing checked yet. Scan, upload or paste a certificate QR code.",
  "result.checking": "Checking, please wait…",
  "result.announce": "Result: {word}. {explain}",
  "result.retry": "Try again",

  "verdict.VALID": "Valid",
  "verdict.REVOKED": "Revoked",
  "verdict.SUSPENDED": "Suspended",
  "verdict.EXPIRED": "Expired",
  "verdict.NOT_RECOGNIZED": "Not recognised in this region",
  "verdict.INVALID": "Invalid or tampered",
  "verdict.UNKNOWN": "Not found on the ledger",
  "verdict.ERROR": "Cannot verify right now — try again",
  "verdict.OTHER": "No clear result",

  "explain.VALID": "The certificate is genuine and currently in force.",
  "explain.VALID.region": "The certificate is genuine, currently in force, and recognised in {region}.",
  "explain.REVOKED": "The issuing agency has revoked this certificate. It can no longer be used.",
  "explain.SUSPENDED": "This certificate is currently suspended. The holder should contact the issuing agency.",
  "explain.EXPIRED": "This certificate is past its validity period.",
  "explain.NOT_RECOGNIZED": "This region ({region}) does not currently recognise this kind of certificate from the issuing region.",
  "explain.NOT_RECOGNIZED.noregion": "This region does not currently recognise this kind of certificate from the issuing region.",
  "explain.INVALID": "The certificate has been altered or forged, or was not issued by an authorised agency. It cannot be used.",
  "explain.UNKNOWN": "This certificate is not recorded on the blockchain ledger. Check it and try again, or contact the issuing agency.",
  "explain.ERROR": "The system could not finish the check. This does not mean anything is wrong with the certificate. Please try again shortly.",
  "explain.OTHER": "The system gave a result this page does not know. Please ask a member of staff.",

  "checks.heading": "What was checked",
  "check.ok": "passed",
  "check.fail": "failed",
  "check.skip": "not checked",
  "check.integrity": "Integrity",
  "check.anchored": "Recorded on the blockchain",
  "check.issuer_authorized": "Issuing agency authorised",
  "check.key_valid": "Signing key valid",
  "check.status": "Status",
  "check.validity_period": "Validity period",
  "check.recognition": "Cross-region recognition",

  "facts.heading": "About the certificate",
  "facts.type": "Certificate type",
  "facts.issuer_region": "Issuing region",
  "facts.agency": "Issuing agency",
  "facts.valid": "Valid",
  "facts.valid.range": "{from} to {until}",
  "facts.valid.open": "from {from}, no end date",
  "facts.anchored_block": "Recorded in block",
  "facts.anchored_time": "Recorded at",
  "facts.tx": "Transaction",
  "facts.hash": "Certificate hash",
  "facts.batch_root": "Batch root",
  "facts.verifier_region": "Verifying region",
  "facts.verifier_region.none": "none chosen",
  "facts.as_of": "Checked at",
  "facts.source": "Data source",
  "source.mirror": "ledger mirror, block {block}",
  "source.chain": "blockchain node, block {block}",
  "source.lag": " ({n} blocks behind)",
  "facts.block": "block {block}",

  "fields.heading": "Information shown by the holder",
  "fields.hidden": "hidden",
  "value.sex.M": "Male",
  "value.sex.F": "Female",
  "fields.hidden.note": "The holder chose not to show the information below. This does not affect the result.",

  "error.heading": "This could not be checked",
  "error.code": "Error code: {code}",
  "error.network": "The verification service cannot be reached. Check the network and try again.",
  "error.timeout": "The verification service did not answer in time. Please try again shortly.",
  "error.server": "The verification service has a problem right now ({status}).",
  "error.badresponse": "The verification service gave an answer this page cannot read.",
  "error.client": "This could not be checked ({status}).",
  "error.busy": "Too many checks at once. Please try again shortly.",
  "error.noqr": "No QR code was found in the picture. Take a sharper picture, or use another way.",
  "error.decoder": "The QR reader could not be loaded.",

  "region.440000": "Guangdong",
  "region.330000": "Zhejiang",
  "region.110000": "Beijing",

  "type.ID_CARD": "Resident Identity Card",
  "type.BUSINESS_LICENSE": "Business Licence",
  "type.DEGREE": "Academic Degree Certificate",
  "type.DRIVING_LICENCE": "Driving Licence",
  "type.SOCIAL_SECURITY_CARD": "Social Security Card",
  "type.PROFESSIONAL_QUALIFICATION": "Professional Qualification Certificate",
  "type.MARRIAGE_CERTIFICATE": "Marriage Certificate",
  "type.HOUSEHOLD_REGISTRATION": "Household Registration",

  "footer.privacy": "A check reads only the certificate's hash and the information you choose to show; no personal data is written to the blockchain.",
  "footer.staff": "If anything is unclear, please ask the staff at the window.",
  "noscript": "This page needs JavaScript to check certificates.",
};

// Labels of holder fields, used when the API's /v1/types gives none (same as ledger/certtypes).
const FIELD_LABELS = {
  name: ["姓名", "Name"],
  sex: ["性别", "Sex"],
  ethnicity: ["民族", "Ethnicity"],
  birthDate: ["出生日期", "Date of birth"],
  address: ["住址", "Address"],
  idNumber: ["公民身份号码", "Citizen ID number"],
  companyName: ["名称", "Company name"],
  creditCode: ["统一社会信用代码", "Unified social credit code"],
  legalRepresentative: ["法定代表人", "Legal representative"],
  companyType: ["类型", "Company type"],
  registeredCapital: ["注册资本（万元）", "Registered capital (CNY 10k)"],
  establishedOn: ["成立日期", "Date of establishment"],
  degree: ["学位", "Degree"],
  major: ["专业", "Major"],
  institution: ["授予单位", "Institution"],
  certificateNumber: ["证书编号", "Certificate number"],
  conferredOn: ["授予日期", "Date conferred"],
  vehicleClass: ["准驾车型", "Permitted vehicle class"],
  firstIssuedOn: ["初次领证日期", "Date of first issue"],
  relationToHead: ["与户主关系", "Relation to head of household"],
  householdNumber: ["户号", "Household number"],
  holderName: ["持证人", "Holder"],
  spouse1Name: ["姓名（一）", "Name (1)"],
  spouse1IdNumber: ["身份证件号（一）", "Citizen ID number (1)"],
  spouse2Name: ["姓名（二）", "Name (2)"],
  spouse2IdNumber: ["身份证件号（二）", "Citizen ID number (2)"],
  registeredOn: ["登记日期", "Date of registration"],
  qualification: ["职业（工种）", "Qualification"],
  level: ["等级", "Level"],
  issuedOn: ["发证日期", "Date of issue"],
  cardNumber: ["卡号", "Card number"],
};

const DICTS = { "zh-CN": zh, en };

export function normalizeLang(value) {
  if (!value) return null;
  const v = String(value).toLowerCase();
  if (v === "en" || v.startsWith("en-")) return "en";
  if (v === "zh" || v.startsWith("zh")) return "zh-CN";
  return null;
}

export function has(lang, key) {
  return Object.prototype.hasOwnProperty.call(DICTS[lang] || zh, key);
}

// In verdict words "|" marks where a line may break on a narrow screen (see segments()).

/** The string for key in lang, with {name} placeholders filled from vars. */
export function t(lang, key, vars) {
  const dict = DICTS[lang] || zh;
  let s = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
  if (key.startsWith("verdict.")) s = s.replace(/\|/g, "");
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

/** A verdict word split where a line may break (Chinese words are kept whole). */
export function segments(lang, key) {
  const dict = DICTS[lang] || zh;
  const s = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
  return s.split("|");
}

/** A built-in label for a holder field, or null. */
export function fieldLabel(lang, name) {
  const pair = FIELD_LABELS[name];
  if (!pair) return null;
  return lang === "en" ? pair[1] : pair[0];
}
