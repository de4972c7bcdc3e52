import Testing
@testable import SonarDetect

/// One pattern's fixture: text holding a fake secret, the exact value expected, and a near miss.
struct PatternCase: CustomTestStringConvertible, Sendable {
    var id: String
    var positive: String
    var value: String
    var negative: String
    var testDescription: String { id }
}

enum PatternCases {
    static let ghp = Fake.github("ghp_", seed: 1)
    static let gho = Fake.github("gho_", seed: 2)
    static let ghu = Fake.github("ghu_", seed: 3)
    static let ghr = Fake.github("ghr_", seed: 4)
    static let awsSecret = Fake.s(Alphabet.base64, 40, seed: 5)
    static let fineGrained = "github_pat_" + Fake.s(Alphabet.alnum, 22, seed: 6) + "_" + Fake.s(Alphabet.alnum, 59, seed: 7)
    static let glpat = "glpat-" + Fake.s(Alphabet.base64url, 20, seed: 8)
    static let slackBot = "xoxb-2814975301-7430281964512-" + Fake.s(Alphabet.alnum, 24, seed: 9)
    static let slackUser = "xoxp-2814975301-2814975302-7430281964512-" + Fake.s(Alphabet.lowerHex, 32, seed: 10)
    static let slackApp = "xoxa-2-7430281964512-" + Fake.s(Alphabet.alnum, 40, seed: 11)
    static let slackHook = "hooks.slack.com/services/T04RZ8K2M/B05QX7J1N9P/" + Fake.s(Alphabet.alnum, 24, seed: 12)
    static let stripeLive = "sk_live_" + Fake.s(Alphabet.alnum, 24, seed: 13)
    static let stripeTest = "sk_test_" + Fake.s(Alphabet.alnum, 24, seed: 14)
    static let openai = "sk-proj-" + Fake.s(Alphabet.alnum, 40, seed: 15) + "-" + Fake.s(Alphabet.alnum, 40, seed: 16)
    static let openaiLegacy = "sk-" + Fake.s(Alphabet.alnum, 48, seed: 17)
    static let anthropic = "sk-ant-api03-" + Fake.s(Alphabet.base64url, 93, seed: 18) + "AA"
    static let google = "AIza" + Fake.s(Alphabet.base64url, 35, seed: 20)
    static let npm = "npm_" + Fake.s(Alphabet.alnum, 36, seed: 21)
    static let pypi = "pypi-AgEIcHlwaS5vcmc" + Fake.s(Alphabet.base64url, 70, seed: 22)
    static let twilio = "SK" + Fake.s(Alphabet.lowerHex, 32, seed: 23)
    static let sendgrid = "SG." + Fake.s(Alphabet.base64url, 22, seed: 24) + "." + Fake.s(Alphabet.base64url, 43, seed: 25)
    static let hf = "hf_" + Fake.s(Alphabet.upper + Alphabet.lower, 34, seed: 26)
    static let digitalocean = "dop_v1_" + Fake.s(Alphabet.lowerHex, 64, seed: 27)
    static let shopify = "shpat_" + Fake.s(Alphabet.lowerHex, 32, seed: 28)
    static let azureKey = Fake.s(Alphabet.base64, 86, seed: 29) + "=="
    static let discord = "discord.com/api/webhooks/1187654321098765432/" + Fake.s(Alphabet.base64url, 68, seed: 30)
    static let telegram = "6123456789:" + Fake.s(Alphabet.base64url, 35, seed: 31)
    static let mailgun = "key-" + Fake.s(Alphabet.lowerHex, 32, seed: 32)
    static let heroku = "3f6d1c2a-9b8e-4d7f-a1c0-5e2b7d9f4a18"
    static let password = "Xk9#mQ2$vL7!pR4z"
    static let apiKey = "Zx81QmP0vR7tLw3Nc5Yk"
    static let bearer = Fake.s(Alphabet.alnum, 40, seed: 33)
    static let basic = Fake.base64("alice:s3cr3t-Pa55")

    static let all: [PatternCase] = [
        .init(id: "aws-access-key-id", positive: "aws_access_key_id = AKIAQ7ZP3XKV9MLT2WRB", value: "AKIAQ7ZP3XKV9MLT2WRB",
              negative: "example: AKIAIOSFODNN7EXAMPLE"),
        .init(id: "aws-secret-access-key", positive: "AWS_SECRET_ACCESS_KEY=\(awsSecret)\n", value: awsSecret,
              negative: "aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        .init(id: "github-pat-classic", positive: "token \(ghp) used", value: ghp,
              negative: "token \(ghp.dropLast())X used"),
        .init(id: "github-oauth-token", positive: "oauth=\(gho)", value: gho, negative: "oauth=\(gho.dropLast(6))000000"),
        .init(id: "github-app-token", positive: "\"\(ghu)\"", value: ghu, negative: "\"\(ghu.dropLast())\""),
        .init(id: "github-refresh-token", positive: "refresh \(ghr)", value: ghr, negative: "refresh \(ghr)Z"),
        .init(id: "github-pat-fine-grained", positive: "GH_PAT \(fineGrained) end", value: fineGrained,
              negative: "GH_PAT \(fineGrained.dropLast()) end"),
        .init(id: "gitlab-pat", positive: "gitlab: \(glpat)", value: glpat, negative: "gitlab: glpat-abcdef123"),
        .init(id: "slack-bot-token", positive: "SLACK \(slackBot)", value: slackBot,
              negative: "SLACK xoxb-abcdefghijklmnopqrstuvwxyzABCD"),
        .init(id: "slack-user-token", positive: "SLACK \(slackUser)", value: slackUser, negative: "SLACK xoxp-1234"),
        .init(id: "slack-other-token", positive: "SLACK \(slackApp)", value: slackApp,
              negative: "SLACK xoxa-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-1234567"),
        .init(id: "slack-webhook-url", positive: "post to https://\(slackHook) now", value: slackHook,
              negative: "post to https://\(slackHook.dropLast()) now"),
        .init(id: "stripe-live-key", positive: "STRIPE=\(stripeLive);", value: stripeLive, negative: "STRIPE=sk_live_1234567890;"),
        .init(id: "stripe-test-key", positive: "STRIPE=\(stripeTest);", value: stripeTest,
              negative: "STRIPE=sk_test_aaaaaaaaaaaaaaaaaaaaaaaaaaaa;"),
        .init(id: "openai-api-key", positive: "OPENAI_KEY \(openai)", value: openai, negative: "OPENAI_KEY sk-proj-tooshort123"),
        .init(id: "openai-legacy-api-key", positive: "key=(\(openaiLegacy))", value: openaiLegacy,
              negative: "key=(\(openaiLegacy.dropLast()))"),
        .init(id: "anthropic-api-key", positive: "x-api: \(anthropic)", value: anthropic,
              negative: "x-api: sk-ant-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        .init(id: "google-api-key", positive: "https://maps.example/js?k=\(google)&v=3", value: google,
              negative: "https://maps.example/js?k=\(google.dropLast())&v=3"),
        .init(id: "jwt", positive: "session \(Fake.jwt) ok", value: Fake.jwt,
              negative: "session \(Fake.base64(#"{"typ":"JWT","kid":"k1"}"#, url: true, pad: false)).eyJzdWIiOiIxIn0.c2lnbmF0dXJl ok"),
        .init(id: "private-key-pem", positive: "key:\n\(Fake.pem)\n", value: Fake.pem,
              negative: "-----BEGIN PUBLIC KEY-----\n\(Fake.pemBody)\n-----END PUBLIC KEY-----"),
        .init(id: "npm-token", positive: "//registry.npmjs.org/:_authToken=\(npm)", value: npm,
              negative: "published with npm_\(Fake.s(Alphabet.alnum, 30, seed: 40))"),
        .init(id: "pypi-token", positive: "password = \(pypi)", value: pypi, negative: "pypi-AgEIcHlwaS5vcmcshort"),
        .init(id: "twilio-api-key", positive: "twilio \(twilio)", value: twilio,
              negative: "twilio SK\(Fake.s(Alphabet.upper, 32, seed: 41))"),
        .init(id: "sendgrid-api-key", positive: "SENDGRID=\(sendgrid)", value: sendgrid,
              negative: "SENDGRID=\(sendgrid.dropLast())"),
        .init(id: "huggingface-token", positive: "HF \(hf)", value: hf, negative: "HF hf_abcdefghijklmnop"),
        .init(id: "digitalocean-token", positive: "do \(digitalocean)", value: digitalocean,
              negative: "do \(digitalocean.dropLast())"),
        .init(id: "shopify-token", positive: "shop \(shopify)", value: shopify,
              negative: "shop shpat_\(Fake.s("ghijklmnop", 32, seed: 42))"),
        .init(id: "azure-storage-account-key",
              positive: "DefaultEndpointsProtocol=https;AccountName=acct01;AccountKey=\(azureKey);EndpointSuffix=core.windows.net",
              value: azureKey, negative: "AccountName=acct01;AccountKey=\(Fake.s(Alphabet.base64, 40, seed: 43));"),
        .init(id: "discord-webhook-url", positive: "https://\(discord)", value: discord,
              negative: "https://discord.com/api/webhooks/12345/\(Fake.s(Alphabet.base64url, 68, seed: 30))"),
        .init(id: "telegram-bot-token", positive: "GET https://api.telegram.org/bot\(telegram)/getMe", value: telegram,
              negative: "GET https://api.telegram.org/bot\(telegram.dropLast())/getMe"),
        .init(id: "telegram-bot-token-assignment", positive: "TELEGRAM_BOT_TOKEN=\(telegram)", value: telegram,
              negative: "TELEGRAM_BOT_TOKEN=61234:abc"),
        .init(id: "mailgun-api-key", positive: "MAILGUN_KEY: key-\(mailgun.dropFirst(4))", value: mailgun,
              negative: "MAILGUN_KEY: key-\(Fake.s(Alphabet.upper, 32, seed: 44))"),
        .init(id: "heroku-api-key", positive: "HEROKU_API_KEY=\(heroku)", value: heroku, negative: "HEROKU_API_KEY=not-a-uuid"),
        .init(id: "generic-password", positive: "DB_PASSWORD=\(password)", value: password, negative: "password=changeme"),
        .init(id: "generic-api-key", positive: "api_key: \"\(apiKey)\"", value: apiKey, negative: "api_key=aaaaaaaaaaaaaaaa"),
        .init(id: "bearer-token", positive: "Authorization: Bearer \(bearer)", value: bearer, negative: "send a Bearer token"),
        .init(id: "basic-auth-credentials", positive: "Authorization: Basic \(basic)", value: basic,
              negative: "Authorization: Basic \(Fake.base64("alicebob-no-colon"))"),
    ]
}

@Test func everyConfiguredPatternHasACase() {
    let configured = SecretRules.scanner.patterns.map(\.id)
    #expect(configured.count >= 25)
    #expect(Set(configured) == Set(PatternCases.all.map(\.id)))
    #expect(SecretRules.scanner.patterns.map(\.signatureId) == Array(100001...100037))
}

@Test(arguments: PatternCases.all)
func patternFindsItsFakeSecret(_ c: PatternCase) {
    #expect(SecretRules.scanner.scan(c.positive) == [SecretMatch(pattern: c.id, value: c.value)])
}

@Test(arguments: PatternCases.all)
func patternIgnoresItsNearMiss(_ c: PatternCase) {
    #expect(SecretRules.scanner.scan(c.negative) == [])
}
