import AWSQuery
import KMSCore
import Testing

@Suite struct QueryProtocolTests {
    func form(_ s: String) -> [String: String] { FormBody.parse(Array(s.utf8)) ?? [:] }

    @Test func formBodyDecodesPercentAndPlus() throws {
        let f = try #require(FormBody.parse(Array("Action=CreateUser&UserName=a%2Bb+c&Empty=&Flag".utf8)))
        #expect(f["Action"] == "CreateUser")
        #expect(f["UserName"] == "a+b c")
        #expect(f["Empty"] == "")
        #expect(f["Flag"] == "")
        #expect(FormBody.parse(Array("A=%G1".utf8)) == nil)
        #expect(FormBody.parse(Array("A=%4".utf8)) == nil)
        #expect(FormBody.parse(Array("A=%FF".utf8)) == nil)  // not UTF-8
        let encoded = FormBody.encode([("Policy", #"{"a": "b/c"}"#)])
        #expect(FormBody.parse(Array(encoded.utf8))?["Policy"] == #"{"a": "b/c"}"#)
    }

    @Test func tooManyParametersAreRefused() {
        let body = (0...FormBody.maxParameters).map { "p\($0)=1" }.joined(separator: "&")
        #expect(FormBody.parse(Array(body.utf8)) == nil)
    }

    @Test func listsMapsAndStructuresAreRebuiltFromTheShape() throws {
        let r = try QueryRequest.decode(form("Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2Fteam%2F&Tags.member.1.Key=env&Tags.member.1.Value=dev&Tags.member.2.Key=team&Tags.member.2.Value=x"), model: .iam)
        #expect(r.action == "CreateUser")
        #expect(r.parameters["UserName"] == .string("alice"))
        #expect(r.parameters["Path"] == .string("/team/"))
        let tags = try #require(r.parameters["Tags"]?.arrayValue)
        #expect(tags.count == 2)
        #expect(tags[1].objectValue?["Key"] == .string("team"))
        let l = try QueryRequest.decode(form("Action=UntagUser&Version=2010-05-08&UserName=a&TagKeys.member.1=k1&TagKeys.member.2=k2"), model: .iam)
        #expect(l.parameters["TagKeys"] == .array([.string("k1"), .string("k2")]))
        let n = try QueryRequest.decode(form("Action=ListUsers&Version=2010-05-08&MaxItems=5"), model: .iam)
        #expect(n.parameters["MaxItems"] == JSONValue(5))
        let b = try QueryRequest.decode(form("Action=CreatePolicyVersion&Version=2010-05-08&PolicyArn=arn:aws:iam::111122223333:policy/p&PolicyDocument=%7B%7D&SetAsDefault=true"), model: .iam)
        #expect(b.parameters["SetAsDefault"] == .bool(true))
    }

    @Test func validationErrorsUseAWSWording() {
        #expect(throws: QueryError.validation("1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null")) {
            try QueryRequest.decode(form("Action=CreateUser&Version=2010-05-08"), model: .iam)
        }
        #expect(throws: QueryError.validation(#"1 validation error detected: Value 'bad name!' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"#)) {
            try QueryRequest.decode(form("Action=CreateUser&Version=2010-05-08&UserName=bad+name!"), model: .iam)
        }
        #expect(throws: QueryError.validation("1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1")) {
            try QueryRequest.decode(form("Action=ListUsers&Version=2010-05-08&MaxItems=0"), model: .iam)
        }
        #expect(throws: QueryError.validation("1 validation error detected: Value 'Paused' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]")) {
            try QueryRequest.decode(form("Action=UpdateAccessKey&Version=2010-05-08&AccessKeyId=AKIAAAAAAAAAAAAAAAAA&Status=Paused"), model: .iam)
        }
    }

    @Test func actionAndVersionAreChecked() {
        #expect(throws: QueryError.missingAction) { try QueryRequest.decode(form("Version=2010-05-08"), model: .iam) }
        #expect(throws: QueryError.invalidAction("Nope", version: "2010-05-08")) {
            try QueryRequest.decode(form("Action=Nope&Version=2010-05-08"), model: .iam)
        }
        #expect(throws: QueryError.invalidAction("CreateUser", version: "2011-06-15")) {
            try QueryRequest.decode(form("Action=CreateUser&Version=2011-06-15&UserName=a"), model: .iam)
        }
        // STS's model is its own: GetCallerIdentity exists there, not in IAM's.
        #expect((try? QueryRequest.decode(form("Action=GetCallerIdentity&Version=2011-06-15"), model: .sts)) != nil)
    }

    @Test func responsesAreWrappedAsBotocoreExpects() throws {
        let op = try #require(QueryServiceModel.iam.operations["ListUsers"])
        let user = JSONObject([("Path", .string("/")), ("UserName", .string("a<b")), ("UserId", .string("AIDAEXAMPLE")),
                               ("Arn", .string("arn:aws:iam::111122223333:user/a")), ("CreateDate", JSONValue(0.0)),
                               ("Tags", .array([.object(JSONObject([("Key", .string("k")), ("Value", .string("v"))]))]))])
        let xml = String(decoding: QueryXML.response(JSONObject([("Users", .array([.object(user)])), ("IsTruncated", .bool(false))]),
                                                     operation: op, model: .iam, requestID: "rid"), as: UTF8.self)
        #expect(xml == #"<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult><Users><member><Path>/</Path><UserName>a&lt;b</UserName><UserId>AIDAEXAMPLE</UserId><Arn>arn:aws:iam::111122223333:user/a</Arn><CreateDate>1970-01-01T00:00:00Z</CreateDate><Tags><member><Key>k</Key><Value>v</Value></member></Tags></member></Users><IsTruncated>false</IsTruncated></ListUsersResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></ListUsersResponse>"#)
        let delete = try #require(QueryServiceModel.iam.operations["DeleteUser"])
        let empty = String(decoding: QueryXML.response(JSONObject(), operation: delete, model: .iam, requestID: "r"), as: UTF8.self)
        #expect(empty == #"<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"#)
    }

    @Test func errorsAreErrorResponses() {
        let e = QueryError("NoSuchEntity", "The user with name x&y cannot be found.", model: .iam)
        #expect(e.httpStatus == 404)
        let xml = String(decoding: QueryXML.error(e, requestID: "r1"), as: UTF8.self)
        #expect(xml == "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name x&amp;y cannot be found.</Message></Error><RequestId>r1</RequestId></ErrorResponse>")
        #expect(QueryError("EntityAlreadyExists", nil, model: .iam).httpStatus == 409)
        #expect(QueryError("ServiceFailure", nil, model: .iam).senderFault == false)
    }

    @Test func timestampsAreISO8601() {
        #expect(ISO8601Time.format(1_795_000_000) == "2026-11-18T11:06:40Z")
    }
}
